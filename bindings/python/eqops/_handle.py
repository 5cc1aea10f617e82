"""What the Python classes over a C handle share: closing (explicitly, by `with`, or when
collected) and refusing to be used once closed."""


class Owned:
    """Owns `self._h`, released by the C function in the class attribute `_free`."""
    _free = None
    _what = "object"

    def close(self):
        """Release it (also done by `with` and when collected)."""
        h, self._h = getattr(self, "_h", None), None
        if h is not None:
            type(self)._free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _handle(self):
        if self._h is None:
            raise ValueError("the %s is closed" % self._what)
        return self._h
