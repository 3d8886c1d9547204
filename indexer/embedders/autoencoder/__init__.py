"""--model autoencoder: a convolutional autoencoder trained on the collection it indexes.

settings.py (what it is trained with), network.py (the model, its checkpoints), pixels.py
(the decoded crops it trains on), epochs.py (the training loop), plots.py (its pictures),
report.py (what training leaves), train.py (decode, train, report, save) and weights.py
(which autoencoder a run embeds with: trained now, reused, a file, or none).
"""
