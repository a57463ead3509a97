"""Line scores of two folders of centreline files: per image and in total.

Each pair of files (paired by name, :func:`geotile.folder_pairs.pair_folders`) is
scored as two line files are (:func:`geotile.line_metrics.evaluate_lines`);
the total sums their lengths (predicted, true, and within the buffer), so that
long roads weigh more than short ones, as one file of all of them would. APLS, where
asked, is the mean of the images' (SpaceNet's total), images without true lines left out;
a truth without a prediction file scores 0 there, as an empty prediction file does (road
CSVs too: an image the prediction leaves out is an empty proposal), so that writing nothing
for the hardest tiles scores no higher. SpaceNet 3's offline tester and apls.py leave such
images unscored instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from geotile.line_metrics import LineScores
from geotile.plurals import counted


@dataclass
class ManyLineScores:
    """Line scores of many images: ``per_image`` {image: LineScores} and their sum."""

    per_image: dict[str, LineScores]
    files: dict[str, tuple[str, str]]
    buffer: float
    unpaired: dict[str, list[str]] = field(default_factory=dict)
    mode: str = "line"
    #: APLS of the truths without a prediction file {truth: AplsScore (0) or None (no road)}
    unpredicted: dict = field(default_factory=dict)
    #: images of ``per_image`` the prediction leaves out (road CSVs: scored as empty)
    left_out: list = field(default_factory=list)

    @property
    def scores(self) -> LineScores:
        parts = list(self.per_image.values())
        return LineScores(
            buffer=self.buffer,
            predicted_length=sum(p.predicted_length for p in parts),
            true_length=sum(p.true_length for p in parts),
            matched_predicted_length=sum(p.matched_predicted_length for p in parts),
            matched_true_length=sum(p.matched_true_length for p in parts),
            predictions=sum(p.predictions for p in parts),
            truths=sum(p.truths for p in parts),
            metres=all(p.metres for p in parts))

    def rows(self) -> dict[str, dict]:
        rows = {}
        for name, part in self.per_image.items():
            pred, true = self.files[name]
            rows[name] = {"prediction": pred, "truth": true,
                          **{k: v for k, v in part.as_dict().items()
                             if k not in ("mode", "buffer_m", "units")}}
        return rows

    @property
    def asked_apls(self) -> bool:
        return any(p.apls is not None for p in self.per_image.values()) or bool(
            self.unpredicted)

    def mean_apls(self) -> tuple[float | None, int]:
        """(mean APLS, images scored): the pairs' and the truths without a prediction (0)."""
        from geotile.apls import mean_apls

        return mean_apls([*(p.apls for p in self.per_image.values()),
                          *self.unpredicted.values()])

    @property
    def zero_unpredicted(self) -> list[str]:
        """The truths without a prediction scored 0 (those with a road of 5 m or more)."""
        scores = {**{n: self.per_image[n].apls for n in self.left_out}, **self.unpredicted}
        return [t for t, s in scores.items() if s is not None and s.apls is not None]

    def as_dict(self) -> dict:
        extra = {}
        if self.asked_apls:
            mean, scored = self.mean_apls()
            extra = {"apls": None if mean is None else round(mean, 6), "apls_images": scored,
                     "apls_unpredicted": self.zero_unpredicted}
        return {**self.scores.as_dict(), **extra, "images": len(self.per_image),
                "per_image": self.rows(), "unpaired": self.unpaired}

    def table(self) -> str:
        from geotile.score_tables import name_width

        s, n = self.scores, name_width(self.per_image)
        lines = [f"Lines (length within {s.within}): "
                 f"{counted(len(self.per_image), 'image')}, "
                 f"{s.predictions} predicted ({s.predicted_length:.1f} {s.unit}), {s.truths} "
                 f"true ({s.true_length:.1f} {s.unit})",
                 s.scores_line()]
        apls = self.asked_apls
        if apls:
            mean, scored = self.mean_apls()
            zero = len(self.zero_unpredicted)
            lines.append("  APLS none (no truth has a road of 5 m or more)" if mean is None else
                         f"  APLS {mean:.4f} (mean of {counted(scored, 'image')}"
                         + (f"; {zero} without a prediction scored 0)" if zero else ")"))
        lines.append(f"  {'image':<{n}}{'pred. ' + s.unit:>12}{'true ' + s.unit:>12}"
                     f"{'prec.':>8}{'recall':>8}{'F1':>8}{'quality':>8}"
                     + (f"{'APLS':>8}" if apls else ""))
        for name, part in self.per_image.items():
            row = (f"  {name:<{n}}{part.predicted_length:>12.1f}"
                   f"{part.true_length:>12.1f}{part.precision:>8.4f}"
                   f"{part.recall:>8.4f}{part.f1:>8.4f}{part.quality:>8.4f}")
            if apls:
                value = part.apls.apls if part.apls is not None else None
                row += f"{'-' if value is None else f'{value:.4f}':>8}"
            lines.append(row)
        return "\n".join(lines)

    def dumps(self) -> str:
        from geotile.json_text import scores_json

        return scores_json(self.as_dict())


def evaluate_line_folders(pairs, *, buffer: float = 2.0, labels_crs: str | None = None,
                          prediction_crs: str | None = None, labels_layer: str | None = None,
                          progress: bool = False, apls: bool = False) -> ManyLineScores:
    """Line scores of each pair of ``pairs`` (:class:`geotile.folder_pairs.FilePairs` of line
    files) and in total (``apls``: APLS too, per image and their mean)."""
    from geotile.line_metrics import evaluate_lines
    from geotile.progress import progress_bar

    per_image = {}
    for name, (pred, true) in progress_bar(pairs.pairs.items(), progress, unit="image",
                                           desc="evaluate"):
        per_image[name] = evaluate_lines(pred, true, buffer=buffer, labels_crs=labels_crs,
                                         prediction_crs=prediction_crs,
                                         labels_layer=labels_layer, apls=apls)
    files = {name: (str(p), str(t)) for name, (p, t) in pairs.pairs.items()}
    unpaired = {"prediction": [str(p) for p in pairs.unpaired_prediction],
                "truth": [str(t) for t in pairs.unpaired_truth]}
    unpredicted = {str(t): _apls_of_nothing(t, labels_crs, labels_layer)
                   for t in pairs.unpaired_truth} if apls else {}
    return ManyLineScores(per_image, files, buffer, unpaired, unpredicted=unpredicted)


def _apls_of_nothing(truth, labels_crs: str | None, labels_layer: str | None):
    """The APLS of no prediction against the lines of file ``truth``: 0, or None where it
    holds no road of 5 m or more (scored as two files are, an empty prediction)."""
    from geotile.line_metrics import read_lines, score_line_frames

    frame = read_lines(truth, labels_crs, labels_layer)
    return score_line_frames(frame.iloc[:0], frame, truth, truth, labels_crs=labels_crs,
                             apls=True).apls
