"""Plain-text corpora for character-level models, read from local files -- never downloaded.

``load_devils_dictionary()`` gives the text bundled with nbflow: Ambrose
Bierce's *The Devil's Dictionary* (1911, public domain; 382,679 characters of
ASCII, the preface and every entry -- see ``data/PROVENANCE.md``).
``load_text(path)`` reads any other text file (``.gz`` too) the same way.
"""
import gzip
import os
import unicodedata

__all__ = ["load_devils_dictionary", "load_text", "DEVILS_DICTIONARY_PATH"]

DEVILS_DICTIONARY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                                      "devils_dictionary.txt.gz")

# Typographic characters that NFKD does not reduce to ASCII.
_ASCII_MAP = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
              "\u2013": "-", "\u2014": "--", "\u2026": "...", "\u00a0": " ", "\u00ab": '"', "\u00bb": '"',
              "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE", "\u00f8": "o",
              "\u00d8": "O", "\ufeff": ""}


def _to_ascii(text):
    text = text.translate(str.maketrans(_ASCII_MAP))
    text = unicodedata.normalize("NFKD", text)
    return text.encode("ascii", "ignore").decode("ascii")


def load_text(path, lowercase=True, ascii=True):
    """The contents of the text file ``path`` as a ``str``.

    A name ending in ``.gz`` is decompressed. The bytes are decoded as UTF-8,
    or as latin-1 when they are not valid UTF-8; line ends become ``\\n``.
    ``ascii``: accented letters lose their accents, curly quotes and dashes
    become ASCII ones and other non-ASCII characters are dropped (keeps a
    character model's vocabulary small). ``lowercase``: the text is lowercased.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("text file %s does not exist" % path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if ascii:
        text = _to_ascii(text)
    if lowercase:
        text = text.lower()
    if not text:
        raise ValueError("text file %s is empty%s" % (path, " after conversion to ASCII" if raw else ""))
    return text


def load_devils_dictionary(lowercase=True):
    """Ambrose Bierce's *The Devil's Dictionary* (the bundled copy) as one ``str``.

    It begins with the author's preface (``"PREFACE\\n\\n_The Devil's
    Dictionary_ was begun in a weekly paper in 1881, ..."``) followed by the
    entries, ``"ABASEMENT, n.  A decent and customary mental attitude ..."``.
    With ``lowercase`` (the default, as character-RNN examples use it) it has
    57 distinct characters; without, 83.
    """
    return load_text(DEVILS_DICTIONARY_PATH, lowercase=lowercase)
