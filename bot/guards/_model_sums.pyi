from collections.abc import Mapping

class Sums:
    def __init__(
        self, terms: Mapping[str, complex], prefix: int, skip: str, blanked: str
    ) -> None: ...
    def of(self, tokens: list[str]) -> tuple[float, float, int]: ...
