"""Road extraction's buffer measures (Wiedemann; Mnih & Hinton's relaxed form on pixels):
precision (correctness), recall (completeness), F1 and quality, from what each side
holds and how much of it lies within the buffer of the other."""


class BufferMeasures:
    """Precision, recall, F1 and quality of the four amounts :meth:`amounts` gives (lengths
    or pixels): (predicted within the buffer, predicted, true within the buffer, true)."""

    def amounts(self) -> tuple[float, float, float, float]:
        raise NotImplementedError

    def as_dict(self) -> dict:
        raise NotImplementedError

    def scores_line(self) -> str:
        """The tables' line of the four scores."""
        return (f"  precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}  "
                f"quality {self.quality:.4f}")

    def dumps(self) -> str:
        """Indented JSON, an undefined score (NaN) as null (evaluate.dumps' text)."""
        from geotile.json_text import scores_json

        return scores_json(self.as_dict())

    @property
    def precision(self) -> float:
        matched, predicted, _, _ = self.amounts()
        return matched / predicted if predicted else 0.0

    @property
    def recall(self) -> float:
        _, _, matched, true = self.amounts()
        return matched / true if true else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def quality(self) -> float:
        """TP / (TP + FP + FN): TP the predicted amount within the buffer of the truth, FN
        the true amount beyond the buffer of the prediction."""
        matched, predicted, matched_true, true = self.amounts()
        whole = predicted + true - matched_true
        return matched / whole if whole > 0 else 0.0
