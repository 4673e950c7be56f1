"""BERT's uncased WordPiece tokenizer, read from a Hugging Face ``tokenizer.json``.

all-MiniLM-L6-v2 ships its tokenizer as ``tokenizer.json`` (BertNormalizer with lower-casing
and accent stripping, BertPreTokenizer, WordPiece with ``##`` continuations). This module does
the same steps in plain Python, so the encoder needs no tokenizer library: the ids were checked
equal to the ``tokenizers`` library's on every training example (README, "The sentence
encoder"). Only the parts of the format that BERT uses are read.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Mapping

CLS, SEP, UNK = "[CLS]", "[SEP]", "[UNK]"


class TokenizerFileError(ValueError):
    """The tokenizer file is not a BERT WordPiece tokenizer this module can read."""


def _is_control(char: str) -> bool:
    if char in "\t\n\r":
        return False
    # Unassigned code points (Cn) are not dropped: the tokenizers library reads them as
    # [UNK], and emoji newer than Python's Unicode tables are unassigned to it.
    category = unicodedata.category(char)
    return category.startswith("C") and category != "Cn"


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_chinese(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def normalise(text: str) -> str:
    """BertNormalizer: drop control characters, space out CJK, strip accents, lower-case."""
    out = []
    for char in text:
        code = ord(char)
        if code == 0 or code == 0xFFFD or _is_control(char):
            continue
        if char.isspace():
            out.append(" ")
        elif _is_chinese(code):
            out.append(f" {char} ")
        else:
            out.append(char)
    decomposed = unicodedata.normalize("NFD", "".join(out))
    # Lower-cased one character at a time, as the tokenizers library does: str.lower() of a
    # whole word turns a final capital sigma into "ς", which has its own vocabulary id.
    return "".join(c.lower() for c in decomposed if unicodedata.category(c) != "Mn")


def pre_tokenise(text: str) -> list[str]:
    """BertPreTokenizer: split on white space, and each punctuation mark is a word."""
    words: list[str] = []
    for chunk in text.split():
        current = ""
        for char in chunk:
            if _is_punctuation(char):
                if current:
                    words.append(current)
                words.append(char)
                current = ""
            else:
                current += char
        if current:
            words.append(current)
    return words


@dataclass(frozen=True)
class WordPieceTokenizer:
    """Text to WordPiece ids, as the model was trained."""

    vocab: Mapping[str, int]
    max_chars_per_word: int = 100
    prefix: str = "##"

    @classmethod
    def from_json(cls, raw: bytes | str) -> WordPieceTokenizer:
        """Build from the contents of a ``tokenizer.json``.

        Raises:
            TokenizerFileError: the file is not a WordPiece tokenizer with BERT's tokens.
        """
        try:
            data = json.loads(raw)
            model = data["model"]
            vocab = {str(k): int(v) for k, v in model["vocab"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise TokenizerFileError(f"not a readable tokenizer.json: {error}") from error
        if model.get("type") != "WordPiece" or not {CLS, SEP, UNK} <= set(vocab):
            raise TokenizerFileError("tokenizer.json is not a BERT WordPiece tokenizer")
        return cls(
            vocab=vocab,
            max_chars_per_word=int(model.get("max_input_chars_per_word") or 100),
            prefix=str(model.get("continuing_subword_prefix") or "##"),
        )

    def word_ids(self, word: str) -> list[int]:
        """Greedy longest-match WordPiece ids of one word (``[UNK]`` if it cannot be split)."""
        if len(word) > self.max_chars_per_word:
            return [self.vocab[UNK]]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.vocab[UNK]]
            ids.append(found)
            start = end
        return ids

    def ids(self, text: str) -> list[int]:
        """The text's WordPiece ids, without ``[CLS]`` and ``[SEP]``."""
        return [i for word in pre_tokenise(normalise(text)) for i in self.word_ids(word)]

    @property
    def cls_id(self) -> int:
        return self.vocab[CLS]

    @property
    def sep_id(self) -> int:
        return self.vocab[SEP]
