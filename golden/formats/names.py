"""Name parsing shared by the format families: a stem, then ``_suffix`` parts."""

import re

__all__ = ["UnknownSuffix", "split"]


class UnknownSuffix(ValueError):
    """A name with a family's stem and a suffix that the family does not know.

    Members
    -------
    key, suffix : str
    """

    def __init__(self, key, suffix):
        super().__init__(f"unknown format {key!r} (unknown suffix {suffix!r})")
        self.key, self.suffix = key, suffix


def split(key, stem, suffix):
    """Split `key` into a stem and suffixes.

    Parameters
    ----------
    key : str
        The name, lower case.
    stem : str
        Regular expression of the family's stem (its groups are the parameters).
    suffix : str
        Regular expression that every suffix (the text between underscores after the
        stem) must match.

    Returns
    -------
    (re.Match, list of str) or None
        The stem's match and the suffixes in order; None if `key` is not the stem followed
        by ``_suffix`` parts.

    Raises
    ------
    UnknownSuffix
        The first suffix that does not match `suffix`.
    """
    match = re.fullmatch(rf"{stem}((?:_[a-z0-9]+)*)", key)
    if not match:
        return None
    suffixes = match.group(match.re.groups).split("_")[1:]
    for part in suffixes:
        if not re.fullmatch(suffix, part):
            raise UnknownSuffix(key, part)
    return match, suffixes
