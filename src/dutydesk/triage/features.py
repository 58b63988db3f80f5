"""Turning ticket text and categorical fields into one sparse feature matrix (pure, no DB).

Three blocks, each L2-normalised and weighted: TF-IDF word 1-2-grams (readable: they are the
words an explanation names), hashed character 3-5-grams within words (robust to typos,
inflection and languages without spaces; hashed, so no vocabulary of millions of n-grams is
built), and one-hot categorical fields (``customer=Acme``). Feature counts shrink as the
number of classes grows, so the dense coefficient matrix of a linear model stays bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn import config_context
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer

from dutydesk.triage.sparse import normalised
from dutydesk.triage.text import TOKEN_PATTERN

CHAR_CHARS = 600  # of it, for the character n-grams (the subject and first lines)
COEF_BUDGET = 24_000_000  # features x classes of the coefficient matrix (~96 MB as float32)
WORD_WEIGHT, CHAR_WEIGHT, FIELD_WEIGHT = 1.0, 0.6, 0.5


class EmptyVocabulary(ValueError):
    """No document contains a single usable word."""


def feature_sizes(n_classes: int) -> tuple[int, int]:
    """(max word features, hashed char features) for a model with n_classes outputs."""
    per_block = COEF_BUDGET // max(n_classes, 2) // 2
    words = int(min(100_000, max(5_000, per_block)))
    chars = 1 << int(np.clip(np.floor(np.log2(max(per_block, 4096))), 12, 17))
    return words, chars


@dataclass
class Featurizer:
    """Fitted vectorizers for text and fields; ``transform`` gives the model's input."""

    n_classes: int
    words: TfidfVectorizer = field(init=False)
    char_hash: HashingVectorizer = field(init=False)
    char_idf: TfidfTransformer = field(init=False)
    fields: DictVectorizer = field(init=False)
    _names: np.ndarray | None = field(default=None, init=False, repr=False)

    def fit_transform(
        self, texts: Sequence[str], fields: Sequence[Mapping[str, str]]
    ) -> sp.csr_matrix:
        n_words, n_chars = feature_sizes(self.n_classes)
        min_df = 2 if len(texts) >= 1000 else 1
        self.words = TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            strip_accents="unicode",
            token_pattern=TOKEN_PATTERN,
            min_df=min_df,
            max_df=0.95 if len(texts) >= 100 else 1.0,
            max_features=n_words,
            dtype=np.float32,
        )
        self.char_hash = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            n_features=n_chars,
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        )
        self.char_idf = TfidfTransformer(sublinear_tf=True)
        self.fields = DictVectorizer(dtype=np.float32)
        try:
            word_x = self.words.fit_transform(texts)
        except ValueError as exc:  # sklearn: "empty vocabulary; perhaps the documents …"
            raise EmptyVocabulary(str(exc)) from exc
        char_x = self.char_idf.fit_transform(self.char_hash.transform(_heads(texts)))
        field_x = self.fields.fit_transform([_field_tokens(f) for f in fields])
        return self._stack(word_x, char_x, field_x)

    def transform(self, texts: Sequence[str], fields: Sequence[Mapping[str, str]]) -> sp.csr_matrix:
        # sklearn's input checks cost more than the work for one ticket; our input is known
        with config_context(assume_finite=True, skip_parameter_validation=True):
            word_x = self.words.transform(texts)
            char_x = self.char_idf.transform(self.char_hash.transform(_heads(texts)))
            field_x = self.fields.transform([_field_tokens(f) for f in fields])
        return self._stack(word_x, char_x, field_x)

    def _stack(
        self, word_x: sp.spmatrix, char_x: sp.spmatrix, field_x: sp.spmatrix
    ) -> sp.csr_matrix:
        blocks = [
            normalised(word_x) * WORD_WEIGHT,
            normalised(char_x) * CHAR_WEIGHT,
            normalised(field_x) * FIELD_WEIGHT,
        ]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    @property
    def n_word_features(self) -> int:
        return len(self.words.vocabulary_)

    @property
    def n_char_features(self) -> int:
        return int(self.char_hash.n_features)

    def name_of(self, column: int) -> str | None:
        """The readable name of a feature column: a word n-gram or a field; None for the
        hashed character n-grams, which have none."""
        if self._names is None:
            words = self.words.get_feature_names_out().astype(object)
            fields = np.asarray(self.fields.get_feature_names_out(), dtype=object)
            self._names = np.concatenate([words, fields])
        n_words = self.n_word_features
        if column < n_words:
            return str(self._names[column])
        offset = n_words + self.n_char_features
        if column >= offset:
            return str(self._names[n_words + column - offset])
        return None

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_names"] = None  # rebuilt on demand; not worth its bytes in the stored model
        words = state.get("words")
        if isinstance(words, TfidfVectorizer) and hasattr(words, "stop_words_"):
            words.stop_words_ = None  # the pruned terms: large, never needed after fitting
        return state


def _heads(texts: Sequence[str]) -> list[str]:
    return [t[:CHAR_CHARS] for t in texts]


def _field_tokens(fields: Mapping[str, str]) -> dict[str, float]:
    return {f"{name}={value}": 1.0 for name, value in fields.items() if value}
