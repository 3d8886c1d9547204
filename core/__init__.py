"""The shared core: what the site and the job both use. No routes, no torch.

records (the database's tables), db (the SQLAlchemy handle and the schema's migrations),
settings (database URL, instance folder), imaging (decode, Preprocessing, thumbnails), metrics,
tiers, locations (folders and s3://), hashing (the content hash), atomic (whole-file writes).
It imports neither the job (indexer/) nor the site (webapp/).
"""
