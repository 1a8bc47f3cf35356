"""Fine-tune a local transformer (any directory with a sequence-classification-capable model and its
tokenizer) on CPU. Nothing is downloaded: ``local_files_only`` everywhere."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nlp.text_models import TransformerTextModel
from radar.errors import ErrorCode, NLPError

if TYPE_CHECKING:
    from training.models import ModelOptions

__all__ = ["fine_tune"]

logger = logging.getLogger(__name__)
BATCH = 16


def fine_tune(
    texts: Sequence[str], y: np.ndarray, classes: Sequence[str], multi_label: bool, options: ModelOptions, *, seed: int = 13
) -> TransformerTextModel:
    """A few epochs of AdamW over shuffled mini-batches; deterministic for a seed on one machine."""
    import torch

    model, tokenizer = _load_base(options, classes, multi_label)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    targets = _targets(y, classes, multi_label)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(options.epochs):
        total = 0.0
        for batch in torch.randperm(len(texts), generator=order).split(BATCH):  # type: ignore[no-untyped-call]
            encoded = tokenizer(
                [texts[i] for i in batch], truncation=True, max_length=options.max_length, padding=True, return_tensors="pt"
            )
            loss = model(**encoded, labels=targets[batch]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            total += float(loss.detach()) * len(batch)
        logger.info("epoch %d: mean loss %.4f", epoch + 1, total / max(len(texts), 1))
    model.eval()
    wrapper = TransformerTextModel(classes, multi_label=multi_label, max_length=options.max_length)
    wrapper.attach(model, tokenizer)
    return wrapper


def _load_base(options: ModelOptions, classes: Sequence[str], multi_label: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = options.base_model
    if base is None or not (base / "config.json").exists():
        raise NLPError(ErrorCode.E206, path=str(base))
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        local_files_only=True,
        num_labels=len(classes),
        problem_type="multi_label_classification" if multi_label else "single_label_classification",
        id2label=dict(enumerate(classes)),
        label2id={c: i for i, c in enumerate(classes)},
        ignore_mismatched_sizes=True,  # a base model's own head (if any) is replaced by one for these labels
    )
    return model, tokenizer


def _targets(y: np.ndarray, classes: Sequence[str], multi_label: bool) -> Any:
    import torch

    if multi_label:
        return torch.tensor(np.asarray(y), dtype=torch.float32)
    index = {c: i for i, c in enumerate(classes)}
    return torch.tensor([index[str(v)] for v in y], dtype=torch.long)
