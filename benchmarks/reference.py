"""The reference recipe: transformers' examples/pytorch/text-classification/run_classification.py at its defaults.

Re-implemented faithfully on the bot's own splits (OUT/splits/{train,test}.csv) so both sides see the
same rows: pad every example to max_seq_length=128, per-device batch 8, AdamW lr 5e-5, 3 epochs,
linear decay with no warmup, no weight decay, seed 42, `default_data_collator`, Trainer defaults
otherwise. Deviation in the reference's favour: no checkpoint saving (the script saves every 500 steps).

`--fraction F` trains F of one epoch and extrapolates the time to 3 epochs (no accuracy then);
`--full` trains all 3 epochs and scores the test split. Prints one JSON line.
Run: HF_HOME=... HF_HUB_OFFLINE=1 python benchmarks/reference.py --splits OUT/splits --fraction 0.1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

MAX_SEQ_LENGTH = 128  # run_classification.py DataTrainingArguments.max_seq_length
BATCH_SIZE = 8  # TrainingArguments.per_device_train_batch_size default
LEARNING_RATE = 5e-5  # TrainingArguments.learning_rate default
EPOCHS = 3  # TrainingArguments.num_train_epochs default
SEED = 42  # TrainingArguments.seed default


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", required=True, help="folder with train.csv and test.csv (text,label)")
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fraction", type=float, default=0.1, help="share of one epoch to time (default 0.1)")
    mode.add_argument("--full", action="store_true", help="train all 3 epochs and score the test split")
    return parser.parse_args(argv)


def encode(tokenizer, frame, label2id: dict):
    """Padded to 128 like run_classification.py's preprocess_function (padding='max_length')."""
    import torch

    enc = tokenizer(frame["text"].astype(str).tolist(), padding="max_length", max_length=MAX_SEQ_LENGTH,
                    truncation=True)
    labels = [label2id[str(x)] for x in frame["label"]]

    class Encoded(torch.utils.data.Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            return {**{k: v[i] for k, v in enc.items()}, "label": labels[i]}

    return Encoded()


def main(argv=None) -> int:
    """Train the reference (a fraction or all of it), print {"mode","train_seconds","accuracy",...}."""
    args = parse_args(argv)
    import numpy as np
    import pandas as pd
    import torch
    from sklearn.metrics import f1_score
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        Trainer,
        TrainingArguments,
        default_data_collator,
        set_seed,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    torch.set_num_threads(os.cpu_count() or 1)
    set_seed(SEED)
    folder = Path(args.splits)
    train = pd.read_csv(folder / "train.csv", keep_default_na=False, na_values=[""])
    test = pd.read_csv(folder / "test.csv", keep_default_na=False, na_values=[""])
    labels = sorted({str(x) for x in train["label"]} | {str(x) for x in test["label"]})  # label_list.sort()
    label2id = {name: i for i, name in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model, num_labels=len(labels), label2id=label2id, id2label=dict(enumerate(labels)))
    train_ds = encode(tokenizer, train, label2id)
    steps_per_epoch = math.ceil(len(train_ds) / BATCH_SIZE)
    full_steps = steps_per_epoch * EPOCHS
    steps = full_steps if args.full else max(1, math.ceil(args.fraction * steps_per_epoch))
    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=BATCH_SIZE, per_device_eval_batch_size=BATCH_SIZE,
            learning_rate=LEARNING_RATE, num_train_epochs=EPOCHS, max_steps=-1 if args.full else steps,
            lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0, seed=SEED,
            save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=500,
        )
        trainer = Trainer(model=model, args=targs, train_dataset=train_ds, processing_class=tokenizer,
                          data_collator=default_data_collator)
        started = time.perf_counter()
        trainer.train()
        measured = time.perf_counter() - started
        result = {
            "mode": "full" if args.full else "fraction",
            "fraction_of_epoch": None if args.full else round(steps / steps_per_epoch, 4),
            "steps": steps, "full_steps": full_steps, "train_rows": len(train_ds),
            "measured_seconds": round(measured, 2),
            "train_seconds": round(measured * full_steps / steps, 2),
            "accuracy": None, "macro_f1": None,
        }
        if args.full:
            logits = trainer.predict(encode(tokenizer, test, label2id)).predictions
            y_pred = np.argmax(logits, axis=-1)
            y_true = np.array([label2id[str(x)] for x in test["label"]])
            present = sorted(set(y_true.tolist()))
            result["accuracy"] = float((y_pred == y_true).mean())
            result["macro_f1"] = float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
