"""What the Python modules over the C API share: classes that own a C handle (closed
explicitly, by `with`, or when collected, and refused once closed), and lists crossing as
newline-separated text."""


def lines(items, what):
    """Non-empty strings without newlines, joined for the C side; TypeError naming `what`."""
    items = list(items or ())
    for i in items:
        if not isinstance(i, str) or "\n" in i or not i:
            raise TypeError("%s: expected non-empty strings without newlines" % what)
    return "\n".join(items)


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
