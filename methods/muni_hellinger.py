"""MUNI† (paper §6.3): MUNI with Hellinger aggregation instead of the product of experts."""
from __future__ import annotations

from dataclasses import dataclass

from methods.base import METHODS
from methods.muni import Muni, MuniOptions


@dataclass
class MuniHellingerOptions(MuniOptions):
    aggregation: str = "hellinger"


@METHODS.register("muni_hellinger")
class MuniHellinger(Muni):
    summary = "MUNI†: MUNI with Hellinger aggregation"
    Options = MuniHellingerOptions
