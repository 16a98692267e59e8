"""The performance aims `just bench` checks, gathered as it measures, printed as one table."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Aims:
    # (aim, what was measured, met: True, False, or None when nothing could be measured, and
    # the least the design allows, measured in the same run, where it sets one)
    rows: list[tuple[str, str, bool | None, str]] = field(default_factory=list)

    def check(self, aim: str, measured: str, met: bool | None, floor: str = "") -> None:
        self.rows.append((aim, measured, met, floor))

    def print(self) -> None:
        width = max(len(aim) for aim, *_ in self.rows)
        shown = max(len(measured) for _, measured, *_ in self.rows)
        print(f"\naims ({sum(1 for _, _, met, _ in self.rows if met)} of {len(self.rows)} met)")
        print(f"  {'aim':{width}}  {'measured':{shown}}  {'met':12}  floor")
        for aim, measured, met, floor in self.rows:
            verdict = {True: "yes", False: "NO", None: "not measured"}[met]
            print(f"  {aim:{width}}  {measured:{shown}}  {verdict:12}  {floor}".rstrip())
