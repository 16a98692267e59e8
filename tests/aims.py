"""The performance aims `just bench` checks, gathered as it measures, printed as one table."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Aims:
    # (aim, what was measured, met: True, False, or None when nothing could be measured)
    rows: list[tuple[str, str, bool | None]] = field(default_factory=list)

    def check(self, aim: str, measured: str, met: bool | None) -> None:
        self.rows.append((aim, measured, met))

    def print(self) -> None:
        width = max(len(aim) for aim, _, _ in self.rows)
        shown = max(len(measured) for _, measured, _ in self.rows)
        print(f"\naims ({sum(1 for *_, met in self.rows if met)} of {len(self.rows)} met)")
        print(f"  {'aim':{width}}  {'measured':{shown}}  met")
        for aim, measured, met in self.rows:
            verdict = {True: "yes", False: "NO", None: "not measured"}[met]
            print(f"  {aim:{width}}  {measured:{shown}}  {verdict}")
