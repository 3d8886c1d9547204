"""The method this project replaces, kept as the benchmark's baseline. Do not use it.

One image at a time, squash-resized to 224 x 224, a forward hook on ResNet18's avgpool, the
full N x N cosine matrix as a pandas DataFrame, a full sort_values per row for the top k,
then one ORM insert per recommendation.
"""
import os

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torchvision import transforms
from torchvision.models import resnet18

from indexer.scan import scan

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def seed_model() -> tuple[torch.nn.Module, dict]:
    """ResNet18 with the same seeded random weights as `--weights none`, and a hook."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = resnet18(weights=None).eval()
    captured = {}
    model.avgpool.register_forward_hook(
        lambda _module, _inputs, output: captured.__setitem__("features", output.flatten(1)))
    return model, captured


def seed_embed(paths: list[str]) -> np.ndarray:
    """Embed one image at a time; files that fail to open are skipped."""
    model, captured = seed_model()
    preprocess = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor(),
                                     transforms.Normalize(MEAN, STD)])
    rows = []
    for path in paths:
        try:
            img = Image.open(path).convert("RGB")
        except OSError:
            continue
        with torch.no_grad():
            model(preprocess(img).unsqueeze(0))
        rows.append(captured["features"][0].numpy().copy())
    return np.stack(rows)


def seed_neighbors(embeddings: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """Full N x N similarity DataFrame, a full sort per row."""
    normed = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarity = pd.DataFrame(normed @ normed.T)
    lists = []
    for i in range(len(similarity)):
        row = similarity.iloc[i].drop(i).sort_values(ascending=False)
        lists.append(list(zip(row.index[:k].tolist(), row.values[:k].tolist())))
    return lists


def seed_store(database_url: str, lists: list[list[tuple[int, float]]]) -> int:
    """One ORM insert per recommendation row (flushed one by one), one commit at the end."""
    from webapp import create_app
    from core.db import db, ensure_schema
    from core.records import Recommendation
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        ensure_schema(db.engine)
        count = 0
        for image, similar in enumerate(lists):
            for rank, (other, score) in enumerate(similar):
                db.session.add(Recommendation(build_id=-1, image_id=image, rank=rank,
                                              similar_id=other, score=score))
                db.session.flush()
                count += 1
        db.session.commit()
        db.engine.dispose()
    return count


def seed_run(image_dir: str, database_url: str, k: int = 10) -> int:
    """The whole seed run on a folder; returns how many images it embedded."""
    files, _ = scan(os.path.abspath(image_dir))
    embeddings = seed_embed([f.full_path for f in files])
    seed_store(database_url, seed_neighbors(embeddings, k))
    return len(embeddings)
