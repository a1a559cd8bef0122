"""Tokenizers, the bundled and tfds corpora, and the packing pipeline."""

import threading
import time

import numpy as np
import pytest

from genesys_jax.verify import corpus, pipeline
from genesys_jax.verify.build_corpus import build
from genesys_jax.verify.tokenizer import (ByteTokenizer, SentencePieceTokenizer, make_tokenizer,
                                          train_sentencepiece)


@pytest.fixture(scope="module")
def sentencepiece_model(tmp_path_factory):
  """A SentencePiece model trained on part of the bundled corpus (a real-run tokenizer in miniature)."""
  prefix = tmp_path_factory.mktemp("sp") / "kjv"
  return train_sentencepiece(corpus.bundled_documents("train")[:60], prefix, vocab_size=400)


def test_byte_tokenizer_round_trips_and_counts_bytes():
  tok = ByteTokenizer()
  ids = tok.encode("Lo, é!")
  assert tok.decode(ids) == "Lo, é!"
  assert tok.token_bytes[ids].sum() == len("Lo, é!".encode())
  assert tok.token_bytes[[tok.pad_id, tok.bos_id, tok.eos_id]].sum() == 0


def test_sentencepiece_round_trips_and_token_bytes_sum_to_utf8_length(sentencepiece_model):
  tok = make_tokenizer("sentencepiece", str(sentencepiece_model))
  text = corpus.bundled_documents("validation")[0][:500] + " naïve"
  ids = tok.encode(text)
  assert tok.decode(ids) == text
  assert tok.token_bytes[ids].sum() == len(text.encode())
  assert len(ids) < 0.7 * len(text.encode())  # ~140 merges beyond the 256 byte pieces already compress
  assert tok.vocab_size == 400


def test_tokenizer_errors(tmp_path):
  with pytest.raises(ValueError, match="unknown tokenizer"):
    make_tokenizer("words")
  with pytest.raises(ValueError, match="needs data.tokenizer_model"):
    make_tokenizer("sentencepiece")
  with pytest.raises(FileNotFoundError, match="does not exist"):
    SentencePieceTokenizer(tmp_path / "missing.model")


def test_bundled_corpus_splits_are_disjoint_and_stable():
  splits = {s: corpus.bundled_documents(s) for s in corpus.SPLITS}
  assert len(splits["train"]) > 1000 and len(splits["validation"]) >= 15 and len(splits["test"]) >= 15
  assert sum(map(len, splits.values())) == 1189  # every chapter in exactly one split
  assert not set(splits["train"]) & set(splits["validation"])
  assert corpus.split_of("Genesis 1") == corpus.split_of("Genesis 1")
  with pytest.raises(corpus.CorpusError, match="unknown split"):
    corpus.bundled_documents("dev")


def test_tfds_corpus_built_offline_is_read_through_data_source(tmp_path):
  (tmp_path / "train.jsonl").write_text('{"text": "In the beginning"}\n{"text": "was the word"}\n')
  (tmp_path / "one.txt").write_text("a whole file is one document")
  build("tiny_corpus", tmp_path / "tfds", {"train": [tmp_path / "train.jsonl", tmp_path / "one.txt"],
                                           "validation": [tmp_path / "train.jsonl"]})
  docs = corpus.TfdsDocuments("tiny_corpus", "train", str(tmp_path / "tfds"))
  assert sorted(docs[i] for i in range(len(docs))) == sorted(
      ["In the beginning", "was the word", "a whole file is one document"])
  batches = list(pipeline.lm_dataset(docs, ByteTokenizer(), 16, 2, train=False))
  assert sum(b["weights"].sum() for b in batches) > 30
  with pytest.raises(corpus.CorpusError, match="Unknown split 'test'"):
    corpus.TfdsDocuments("tiny_corpus", "test", str(tmp_path / "tfds"))
  with pytest.raises(corpus.CorpusError, match="has no feature 'body'"):
    corpus.TfdsDocuments("tiny_corpus", "train", str(tmp_path / "tfds"), text_key="body")


def test_tfds_corpus_errors_are_one_sentence(tmp_path):
  with pytest.raises(corpus.CorpusError, match="does not exist"):
    corpus.TfdsDocuments("c4", "train", str(tmp_path / "nowhere"))
  with pytest.raises(corpus.CorpusError, match="cannot open tfds dataset 'c4'"):
    corpus.TfdsDocuments("c4", "train", str(tmp_path))
  with pytest.raises(ValueError, match=r"bad.jsonl:2 is not a JSON object"):
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\nnot json\n')
    build("bad", tmp_path / "tfds", {"train": [tmp_path / "bad.jsonl"]})


def _docs():
  return ["aaaa", "bb", "cccccccc", "d", "eeeee"]


def test_packing_masks_document_jumps_and_padding():
  tok = ByteTokenizer()
  batches = list(pipeline.lm_dataset(_docs(), tok, 6, 2, train=False))
  inputs = np.concatenate([b["inputs"] for b in batches])
  targets = np.concatenate([b["targets"] for b in batches])
  weights = np.concatenate([b["weights"] for b in batches])
  scored = weights > 0
  # Never scored: predicting a document's bos from the previous document, or any padding.
  assert not np.any(scored & (targets == tok.bos_id))
  assert np.all(targets[scored] != 0) and np.all(inputs[scored] != tok.eos_id)
  # Everything else inside a document is scored: each document's bytes and its eos.
  assert scored.sum() >= sum(len(d) + 1 for d in _docs()) - len(inputs)  # minus one per row start
  assert np.all(np.concatenate([b["target_bytes"] for b in batches])[scored] == (targets[scored] < 256))


def test_eval_batches_keep_their_shape_with_zero_weight_padding_rows():
  batches = list(pipeline.lm_dataset(_docs(), ByteTokenizer(), 8, 3, train=False))  # 30 tokens: 4 rows
  assert len(batches) == 2 and all(b["inputs"].shape == (3, 8) for b in batches)
  assert batches[-1]["weights"][0].sum() > 0 and batches[-1]["weights"][1:].sum() == 0


def test_training_stream_is_deterministic_resumable_and_sharded():
  docs = corpus.bundled_documents("train")
  a = iter(pipeline.lm_dataset(docs, ByteTokenizer(), 32, 4, train=True, seed=3))
  b = iter(pipeline.lm_dataset(docs, ByteTokenizer(), 32, 4, train=True, seed=3))
  first = [next(a)["inputs"] for _ in range(3)]
  assert all(np.array_equal(x, next(b)["inputs"]) for x in first)
  state = a.get_state()
  after = next(a)["inputs"]
  c = iter(pipeline.lm_dataset(docs, ByteTokenizer(), 32, 4, train=True, seed=3))
  c.set_state(state)
  assert np.array_equal(next(c)["inputs"], after)
  other_seed = next(iter(pipeline.lm_dataset(docs, ByteTokenizer(), 32, 4, train=True, seed=4)))["inputs"]
  assert not np.array_equal(other_seed, first[0])
  host0 = next(iter(pipeline.lm_dataset(docs, ByteTokenizer(), 32, 4, train=False, shards=(0,), shard_count=2)))
  host1 = next(iter(pipeline.lm_dataset(docs, ByteTokenizer(), 32, 4, train=False, shards=(1,), shard_count=2)))
  assert not np.array_equal(host0["inputs"], host1["inputs"])


@pytest.mark.parametrize("train", [True, False])
def test_one_process_reading_every_shard_sees_the_global_batch_of_many(train):
  """Two processes with one shard each and one process with both give the same global batches, row for
  row, and the one process's stream resumes from its state."""
  docs = corpus.bundled_documents("train")
  hosts = [iter(pipeline.lm_dataset(docs, ByteTokenizer(), 16, 2, train=train, seed=1, shards=(k,), shard_count=2))
           for k in (0, 1)]
  whole = iter(pipeline.lm_dataset(docs, ByteTokenizer(), 16, 4, train=train, seed=1, shards=(0, 1), shard_count=2))
  for _ in range(3):
    parts = [next(h) for h in hosts]
    batch = next(whole)
    for key in batch:
      assert np.array_equal(batch[key], np.concatenate([p[key] for p in parts])), key
  state, after = whole.get_state(), next(whole)
  again = iter(pipeline.lm_dataset(docs, ByteTokenizer(), 16, 4, train=train, seed=1, shards=(0, 1), shard_count=2))
  again.set_state(state)
  assert np.array_equal(next(again)["inputs"], after["inputs"])
  with pytest.raises(ValueError, match="cannot be split evenly over 2 data shards"):
    pipeline.lm_dataset(docs, ByteTokenizer(), 16, 3, train=train, shards=(0, 1), shard_count=2)


def _packing_threads() -> set[threading.Thread]:
  return {t for t in threading.enumerate() if t.name.startswith("grain-thread-prefetch") and t.is_alive()}


def test_batches_packed_ahead_are_the_same_stream_and_resume_from_the_last_one_taken():
  docs = corpus.bundled_documents("train")
  make = lambda prefetch: iter(pipeline.lm_dataset(docs, ByteTokenizer(), 32, 4, train=True, seed=3,
                                                   shards=(0, 1), shard_count=2, prefetch=prefetch))
  before = _packing_threads()
  in_loop, ahead = make(0), make(4)
  for _ in range(3):
    assert np.array_equal(next(in_loop)["inputs"], next(ahead)["inputs"])
  time.sleep(0.2)  # lets the background thread pack past the last batch taken (the checks hold either way)
  state = ahead.get_state()
  expected = [next(in_loop)["inputs"] for _ in range(2)]
  resumed = make(4)
  resumed.set_state(state)
  assert all(np.array_equal(next(resumed)["inputs"], want) for want in expected)
  started = _packing_threads() - before
  assert started   # the batches came from a background thread
  for it in (ahead, resumed):
    it.close()     # joins its thread
  assert not any(t.is_alive() for t in started)


def test_worker_processes_pack_a_deterministic_stream_that_resumes():
  docs = corpus.bundled_documents("train")
  make = lambda: iter(pipeline.lm_dataset(docs, ByteTokenizer(), 32, 4, train=True, seed=3, workers=2))
  first, second = make(), make()
  batches = [next(first) for _ in range(4)]
  assert all(np.array_equal(b["inputs"], next(second)["inputs"]) for b in batches)
  assert not np.array_equal(batches[0]["inputs"], batches[1]["inputs"])
  state = first.get_state()
  after = next(first)["inputs"]
  resumed = make()
  resumed.set_state(state)
  assert np.array_equal(next(resumed)["inputs"], after)
  for it in (first, second, resumed):
    it.close()
