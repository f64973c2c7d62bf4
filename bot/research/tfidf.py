"""The TF-IDF model: word 1-2 gram TF-IDF + LinearSVC, with probabilities from a calibrated softmax.

It has three jobs. It is the baseline every fine-tune is compared with (evaluate.py); it is a
candidate to ship on its own, the cheapest one (train.py ships it when the fine-tune is not
significantly better on validation: `selection.choose_shipped`); and it is half of the ensemble
candidate, the two models' probabilities averaged. What ships is saved next to the transformer
(`model/tfidf/`, `finetuned_weight` 0.0 for the baseline alone) and served by app.py.

Saved as JSON (vocabulary, settings) plus safetensors (idf, weights), never pickle, so loading a
published model runs no code. Dependency-light and without a `from __future__` import on purpose:
codegen embeds this source in the generated, standalone train.py, evaluate.py and app.py.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

COMPANION_DIR = "tfidf"  # OUT/model/tfidf/: the companion lives inside the model folder it belongs to
COMPANION_FORMAT = "ml-intern-tfidf/1"
# The fine-tune's share of the averaged probabilities. It keeps at least half: the companion corrects
# the transformer rather than replacing it (when TF-IDF alone is as good, the report's verdict says so).
ENSEMBLE_WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
VECTORIZER_SETTINGS: dict[str, Any] = {"ngram_range": [1, 2], "sublinear_tf": True, "token_pattern": r"(?u)\b\w+\b"}
TEMPERATURES = np.geomspace(0.01, 10.0, 60)


def softmax(scores, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(scores, dtype=float) / temperature
    z = z - np.max(z, axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _vectorizer(vocabulary: dict | None = None) -> "TfidfVectorizer":
    from sklearn.feature_extraction.text import TfidfVectorizer

    settings = {**VECTORIZER_SETTINGS, "ngram_range": tuple(VECTORIZER_SETTINGS["ngram_range"])}
    return TfidfVectorizer(**settings, vocabulary=vocabulary)


class _FittedSvm(NamedTuple):
    vectorizer: "TfidfVectorizer"
    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray


class TfidfClassifier:
    """texts -> class probabilities over `num_labels` classes (y values are class indices)."""

    def __init__(self, num_labels: int):
        self.num_labels, self.temperature = num_labels, 1.0
        self.constant: int | None = None  # the class always predicted, when training had nothing to learn from
        self.finetuned_weight: float | None = None  # set when this model is half of a shipped ensemble
        # The fitted SVM, set by fit or load unless `constant` is set:
        self.vectorizer: TfidfVectorizer | None = None
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None
        self.classes: np.ndarray | None = None

    def fit(self, texts: list[str], y) -> "TfidfClassifier":
        """Fit on training texts; with no words or a single class it predicts the majority class."""
        from sklearn.svm import LinearSVC

        y = np.asarray(y, dtype=int)
        self.vectorizer = _vectorizer()
        try:
            features = self.vectorizer.fit_transform(texts)
        except ValueError:  # no word at all in the training texts
            features = None
        if features is None or len(set(y.tolist())) < 2:
            values, counts = np.unique(y, return_counts=True)
            self.constant = int(values[np.argmax(counts)])
            return self
        svm = LinearSVC(C=1.0, random_state=0).fit(features, y)
        self.coef, self.intercept = svm.coef_.astype(np.float32), svm.intercept_.astype(np.float32)
        self.classes = svm.classes_.astype(int)
        return self

    def _svm(self) -> _FittedSvm:
        """The fitted SVM; a model without a `constant` class has one once fit or load has run."""
        if self.vectorizer is None or self.coef is None or self.intercept is None or self.classes is None:
            raise RuntimeError("the TF-IDF model is not fitted: call fit or load first")
        return _FittedSvm(self.vectorizer, self.coef, self.intercept, self.classes)

    def scores(self, texts: list[str]) -> np.ndarray:
        """SVM margins per class; classes unseen in training get -inf (probability 0)."""
        full = np.full((len(texts), self.num_labels), -np.inf)
        if self.constant is not None:
            full[:, self.constant] = 0.0
            return full
        svm = self._svm()
        margins = np.asarray(svm.vectorizer.transform(texts) @ svm.coef.T) + svm.intercept
        if len(svm.classes) == 2:  # binary LinearSVC: one margin, for classes[1]
            margins = np.c_[np.zeros(len(texts)), margins[:, 0]]
        full[:, svm.classes] = margins
        return full

    def calibrate(self, texts: list[str], y) -> "TfidfClassifier":
        """The softmax temperature minimising validation log-loss, so confidences mean something."""
        if self.constant is not None or len(texts) == 0:
            return self
        scores, y = self.scores(texts), np.asarray(y, dtype=int)
        losses = [_smoothed_log_loss(softmax(scores, t), y) for t in TEMPERATURES]
        self.temperature = float(TEMPERATURES[int(np.argmin(losses))])
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return softmax(self.scores(texts), self.temperature)

    def save(self, folder: Path) -> None:
        """folder/tfidf.json (settings, vocabulary) and folder/tfidf.safetensors (idf, weights)."""
        from safetensors.numpy import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        svm = self._svm() if self.constant is None else None
        meta = {
            "format": COMPANION_FORMAT, "num_labels": self.num_labels, "temperature": self.temperature,
            "constant": self.constant, "finetuned_weight": self.finetuned_weight,
            "vectorizer": VECTORIZER_SETTINGS,
            "classes": svm.classes.tolist() if svm else None,
            "vocabulary": {t: int(i) for t, i in svm.vectorizer.vocabulary_.items()} if svm else None,
        }
        (folder / "tfidf.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        if svm:
            tensors = {"idf": svm.vectorizer.idf_.astype(np.float32), "coef": svm.coef, "intercept": svm.intercept}
            save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(folder / "tfidf.safetensors"))

    @classmethod
    def load(cls, folder: Path) -> "TfidfClassifier":
        """The model `save` wrote; raises ValueError for a folder of another format."""
        folder = Path(folder)
        meta = json.loads((folder / "tfidf.json").read_text(encoding="utf-8"))
        if meta.get("format") != COMPANION_FORMAT:
            raise ValueError(f"{folder / 'tfidf.json'} is not a {COMPANION_FORMAT} model")
        model = cls(int(meta["num_labels"]))
        model.temperature, model.constant = float(meta["temperature"]), meta["constant"]
        model.finetuned_weight = meta.get("finetuned_weight")
        if model.constant is None:
            from safetensors.numpy import load_file

            tensors = load_file(str(folder / "tfidf.safetensors"))
            model.vectorizer = _vectorizer(meta["vocabulary"])
            model.vectorizer.idf_ = tensors["idf"].astype(np.float64)
            model.coef, model.intercept = tensors["coef"], tensors["intercept"]
            model.classes = np.asarray(meta["classes"], dtype=int)
        return model


def _smoothed_log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    """Log-loss with 1/(n+2) of each row's weight on the other classes (Laplace's rule of succession).

    Plain log-loss on a validation split the model gets all right is lowest at the smallest temperature,
    making every confidence 1.0, so no abstain threshold could refuse anything; this keeps an error
    rate of about 1/(n+2) possible, as the fine-tune's temperature fit does (selection.py).
    """
    n, k = probs.shape
    log_probs = np.log(probs + 1e-12)
    true = log_probs[np.arange(n), y]
    others = (log_probs.sum(axis=1) - true) / max(k - 1, 1)
    smoothing = 1.0 / (n + 2)
    return float(-((1.0 - smoothing) * true + smoothing * others).mean())


def blend(finetuned_probs, tfidf_probs, finetuned_weight: float) -> np.ndarray:
    """The ensemble's probabilities: a weighted average of the two models'."""
    return finetuned_weight * np.asarray(finetuned_probs) + (1.0 - finetuned_weight) * np.asarray(tfidf_probs)


def choose_weight(finetuned_probs, tfidf_probs, y) -> tuple[float, dict]:
    """The fine-tune's weight with the best validation accuracy (ties: the larger weight, so 1.0,
    the fine-tune alone, wins unless the average is strictly better), and the accuracies behind it."""
    y = np.asarray(y, dtype=int)
    accuracy = {w: float((blend(finetuned_probs, tfidf_probs, w).argmax(axis=1) == y).mean()) for w in (0.0, *ENSEMBLE_WEIGHTS)}
    weight = max(ENSEMBLE_WEIGHTS, key=lambda w: (accuracy[w], w))
    return weight, {"finetuned": accuracy[1.0], "tfidf": accuracy[0.0], "ensemble": accuracy[weight]}
