"""The command line's warnings: each said when raised, the same advice for other files
said once when the command ends."""

from __future__ import annotations


class Gathered:
    """The warnings of one command: each said when it is raised, but an advice already given
    for another file is kept back and said once when the command ends, for all the files it
    was given for (:meth:`rest`): a folder of 2,799 plain images reads two lines, not 2,799.
    ``say``: prints one warning's text."""

    def __init__(self, say) -> None:
        self.say = say
        self.plain: set[str] = set()
        self.named: dict[str, list[str]] = {}  # advice -> the files it was given for

    def show(self, message, category, filename, lineno, file=None, line=None) -> None:
        """A ``warnings.showwarning``: says a new warning, keeps back a repeated advice."""
        text = str(message)
        name, advice = _file_and_advice(text)
        if getattr(message, "about", None) and getattr(message, "advice", None):
            name, advice = message.about, message.advice  # per-file details left out
        if name is None:
            if text not in self.plain:
                self.plain.add(text)
                self.say(text)
        elif advice in self.named:
            self.named[advice].append(name)
        else:
            self.named[advice] = [name]
            self.say(text)

    def rest(self) -> list[str]:
        """One line for each advice kept back: "19 more images (b.png, c.png, d.png, ...):
        ADVICE" (the files after the one it was said for, by name)."""
        from geotile.input_files import RASTER_SUFFIXES

        lines = []
        for advice, names in self.named.items():
            more = sorted(set(names[1:]) - {names[0]})
            if not more:
                continue
            noun = "images" if all(n.lower().endswith(RASTER_SUFFIXES) for n in more) \
                else "files"
            shown = ", ".join(more[:3]) + (", ..." if len(more) > 3 else "")
            lines.append(f"{len(more)} more {noun} ({shown}): {advice}")
        return lines


def _file_and_advice(text: str) -> tuple[str | None, str]:
    """("a.png", "ADVICE") of a warning "a.png: ADVICE" that names a file first, else
    (None, text)."""
    import re

    name, _, advice = text.partition(": ")
    if advice and re.fullmatch(r"[^-\s].*\.\w{1,6}", name):
        return name, advice
    return None, text
