"""The multiple-choice harness: loading, TFDS record conversion, and exact scores from a fake bigram model."""

from __future__ import annotations

import math
import pathlib
import types
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from genesys_jax.check.probes import jitted_forward
from genesys_jax.gau.composer import ModelConfig, compose
from genesys_jax.units.seeds import seed_design
from genesys_jax.verify import multiple_choice as mc
from genesys_jax.verify.token_scores import continuation_scores
from genesys_jax.verify.tokenizer import ByteTokenizer

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
VOCAB = 260
PEAK = 10.0
ON = PEAK - math.log(math.exp(PEAK) + VOCAB - 1)  # the expected next byte
OFF = -math.log(math.exp(PEAK) + VOCAB - 1)  # any other byte after one that expects something
FLAT = -math.log(VOCAB)  # any byte after one that expects nothing


def bigram_forward(paths: list[str], calls: list[np.ndarray] | None = None) -> Callable[[jax.Array], jax.Array]:
  """A fake causal model: after a byte of a path it puts almost all probability on the path's next byte."""
  table_VxV = np.zeros((VOCAB, VOCAB), np.float32)
  for path in paths:
    data = path.encode("utf-8")
    table_VxV[list(data[:-1]), list(data[1:])] = PEAK
  table = jnp.asarray(table_VxV)

  def forward(tokens_BxL: jax.Array) -> jax.Array:
    if calls is not None:
      calls.append(np.asarray(tokens_BxL))
    return table[tokens_BxL]

  return forward


_reduce = jax.jit(continuation_scores)


def rows(forward: Callable[[jax.Array], jax.Array]) -> mc.ScoreFn:
  """The per-row scores of a logits function, reduced as the compiled scoring step reduces them."""
  return lambda tokens_BxL, continuation_BxL: _reduce(forward(jnp.asarray(tokens_BxL)), jnp.asarray(tokens_BxL),
                                                      jnp.asarray(continuation_BxL))


def test_fixtures_load_in_all_three_forms():
  choices = mc.load_jsonl(FIXTURES / "choices.jsonl")
  assert len(choices) == 5 and choices[1].label == 1
  assert choices[1].options == [("Question: Which season is the coldest?\nAnswer:", " summer"),
                                ("Question: Which season is the coldest?\nAnswer:", " winter")]
  contexts = mc.load_jsonl(FIXTURES / "contexts.jsonl")
  assert len(contexts) == 3 and {cont for _, cont in contexts[0].options} == {" was soft."}
  passages = mc.load_jsonl(FIXTURES / "passages.jsonl")
  assert passages[0] == mc.Example(
      [("Tom looked everywhere for his keys. He searched the kitchen and the car, and at last he found his",
        " keys")], 0)


@pytest.mark.parametrize("text, phrase", [
    ('{"context": "Q:", "choices": [" a"], "label": 0}\n{"context": "Q:", "choices": [" a", " b"], "label": 2}',
     "line 2 of .* label 2 is out of range for 2 options"),
    ('{"context": "Q:", "choices": [], "label": 0}', "line 1 of .* no choices"),
    ('{"context": "Q:", "choices": [" a", " b"], "label": 0}\n{"context": "Q:", "choices": [" a"', "line 2 of .* JSON"),
    ('{"contexts": ["A", "B"], "label": 0}', "line 1 of .* no string 'continuation'"),
    ('{"context": "Q:", "choices": [" a", " b"]}', "line 1 of .* no integer 'label'"),
    ('{"passage": "alone"}', "line 1 of .* at least two words"),
    ('{"question": "Q?"}', "line 1 of .* none of 'choices', 'contexts' or 'passage'"),
    ("\n\n", "has no examples"),
])
def test_bad_files_name_the_file_and_line(tmp_path, text, phrase):
  path = tmp_path / "bad.jsonl"
  path.write_text(text)
  with pytest.raises(ValueError, match=phrase) as info:
    mc.load_jsonl(path)
  assert "bad.jsonl" in str(info.value) and "\n" not in str(info.value)


def test_missing_file_is_a_value_error(tmp_path):
  with pytest.raises(ValueError, match="does not exist"):
    mc.load_jsonl(tmp_path / "absent.jsonl")


def test_option_loglikelihoods_are_exact():
  forward = bigram_forward(["Q: yes"])
  loglik, greedy = mc.score_options(rows(forward), ByteTokenizer(), [("Q:", " yes"), ("Q:", " no")], batch=2,
                                    length=16)
  np.testing.assert_allclose(loglik, [4 * ON, ON + OFF + FLAT], atol=1e-5)
  assert greedy.tolist() == [True, False]


def test_accuracy_and_chance():
  forward = bigram_forward(["Q: yes"])
  examples = [mc.shared_context("Q:", [" yes", " no"], 0), mc.shared_context("Q:", [" yes", " no"], 1),
              mc.shared_context("Q:", [" no", " maybe", " yes", " nah"], 2)]
  result = mc.score(rows(forward), ByteTokenizer(), examples, batch=4, length=16)
  assert result == {"acc": pytest.approx(2 / 3), "acc_norm": pytest.approx(2 / 3), "n": 3,
                    "chance": pytest.approx((0.5 + 0.5 + 0.25) / 3)}


def test_length_normalization_can_overturn_the_sum():
  # " n": one unlikely byte in 2. " nnnnnnnnnx": two unlikely bytes in 11 (n follows n), so a lower sum
  # but a higher log-likelihood per byte.
  forward = bigram_forward(["Q: yes", "nn"])
  example = mc.shared_context("Q:", [" n", " nnnnnnnnnx"], 1)
  loglik, _ = mc.score_options(rows(forward), ByteTokenizer(), example.options, batch=2, length=16)
  np.testing.assert_allclose(loglik, [ON + OFF, 9 * ON + 2 * OFF], atol=1e-5)
  result = mc.score(rows(forward), ByteTokenizer(), [example], batch=2, length=16)
  assert (result["acc"], result["acc_norm"]) == (0.0, 1.0)


def test_shared_continuation_ranks_contexts():
  forward = bigram_forward(["cat run"])
  example = mc.shared_continuation(["the dog", "the cat"], " run", 1)
  loglik, _ = mc.score_options(rows(forward), ByteTokenizer(), example.options, batch=2, length=16)
  np.testing.assert_allclose(loglik, [FLAT + 3 * ON, 4 * ON], atol=1e-5)
  assert mc.score(rows(forward), ByteTokenizer(), [example], batch=2, length=16)["acc"] == 1.0


def test_single_option_tasks_are_greedy_exact_match():
  forward = bigram_forward(["Q: yes"])
  examples = [mc.last_word("Q: yes"), mc.last_word("Q: no"), mc.last_word("Q: ye")]
  result = mc.score(rows(forward), ByteTokenizer(), examples, batch=2, length=16)
  assert result == {"acc": pytest.approx(2 / 3), "acc_norm": pytest.approx(2 / 3), "n": 3, "chance": 0.0}


def test_rows_start_with_bos_and_long_contexts_lose_their_left_end():
  tok = ByteTokenizer()
  calls = []
  forward = bigram_forward(["hXY"], calls)
  loglik, _ = mc.score_options(rows(forward), tok, [("ab", "c"), ("abcdefgh", "XY")], batch=4, length=5)
  assert [c.shape for c in calls] == [(4, 5)]
  assert calls[0][0].tolist() == [tok.bos_id, *b"abc", tok.pad_id]
  assert calls[0][1].tolist() == list(b"fghXY")
  assert (calls[0][2:] == tok.pad_id).all()
  full, _ = mc.score_options(rows(bigram_forward(["hXY"])), tok, [("abcdefgh", "XY")], batch=1, length=32)
  np.testing.assert_allclose(loglik[1], full[0], rtol=1e-6)
  np.testing.assert_allclose(loglik[1], 2 * ON, atol=1e-5)


def test_a_continuation_that_cannot_fit_is_refused():
  forward = bigram_forward(["ab"])
  loglik, _ = mc.score_options(rows(forward), ByteTokenizer(), [("a", "x" * 7)], batch=1, length=8)
  assert loglik.shape == (1,)
  with pytest.raises(ValueError, match="fit in length 8"):
    mc.score_options(rows(forward), ByteTokenizer(), [("a", "x" * 8)], batch=1, length=8)


def test_every_call_has_the_same_shape():
  calls = []
  forward = bigram_forward(["Q: yes"], calls)
  examples = [mc.shared_context("Q:", [" yes", " no", " maybe"], 0)] * 3
  mc.score(rows(forward), ByteTokenizer(), examples, batch=4, length=12)
  assert [c.shape for c in calls] == [(4, 12)] * 3


def _real_record(features: tfds.features.FeaturesDict, record: dict) -> dict:
  """`record` encoded and decoded by `features`, as `tfds.data_source` would return it."""
  return features.deserialize_example_np(features.serialize_example(record))


SCIQ_FEATURES = tfds.features.FeaturesDict({k: tfds.features.Text() for k in (
    "question", "distractor1", "distractor2", "distractor3", "correct_answer", "support")})

RECORDS = {
    "hellaswag": (
        {"activity_label": "Baking", "context": "[header] How to bake bread [title] Mix flour and water.",
         "endings": ["Knead the dough for ten minutes.", "Paint the [step] fence blue."], "label": 0,
         "split_type": "indomain", "source_id": "wikihow~1"},
        mc.Example([("Baking: How to bake bread. Mix flour and water.", " Knead the dough for ten minutes."),
                    ("Baking: How to bake bread. Mix flour and water.", " Paint the fence blue.")], 0)),
    "piqa": (
        {"id": "p1", "goal": "How do you keep bread fresh?", "sol1": "Leave it in the sun.",
         "sol2": "Put it in a sealed bag.", "label": 1},
        mc.shared_context("Question: How do you keep bread fresh?\nAnswer:",
                          [" Leave it in the sun.", " Put it in a sealed bag."], 1)),
    "arc_easy": (
        {"id": "a1", "question": "Which gas do plants take in?",
         "choices": {"text": ["oxygen", "carbon dioxide", "helium"], "label": ["B", "C", "D"]}, "answerKey": "C"},
        mc.shared_context("Question: Which gas do plants take in?\nAnswer:",
                          [" oxygen", " carbon dioxide", " helium"], 1)),
    "arc_challenge": (
        {"id": "a2", "question": "What melts ice fastest?",
         "choices": {"text": ["salt", "sand"], "label": ["A", "B"]}, "answerKey": "A"},
        mc.shared_context("Question: What melts ice fastest?\nAnswer:", [" salt", " sand"], 0)),
    "winogrande": (
        {"sentence": "The trophy did not fit in the suitcase because the _ was too big.",
         "option1": "trophy", "option2": "suitcase", "label": 0},
        mc.shared_continuation(["The trophy did not fit in the suitcase because the trophy",
                                "The trophy did not fit in the suitcase because the suitcase"], " was too big.", 0)),
    "openbookqa": (
        {"question": {"stem": "What keeps a boat afloat?", "choice_A": "its colour", "choice_B": "its name",
                      "choice_C": "buoyancy", "choice_D": "the wind"},
         "fact1": "Objects float when buoyancy matches their weight.", "humanScore": 1.0, "clarity": 2.0,
         "turkIdAnonymized": "t1", "answerKey": "C"},
        mc.shared_context("Question: What keeps a boat afloat?\nAnswer:",
                          [" its colour", " its name", " buoyancy", " the wind"], 2)),
    "boolq": (
        {"question": "is the sun a star", "passage": "The Sun is the star at the centre of the Solar System.",
         "idx": 7, "label": 1},
        mc.shared_context("The Sun is the star at the centre of the Solar System.\nQuestion: is the sun a star?\n"
                          "Answer:", [" no", " yes"], 1)),
    "sciq": (
        {"question": "What do plants make in sunlight?", "distractor1": "salt", "distractor2": "iron",
         "distractor3": "glass", "correct_answer": "sugar", "support": "Plants use light to make food. "},
        mc.shared_context("Plants use light to make food.\nQuestion: What do plants make in sunlight?\nAnswer:",
                          [" salt", " iron", " glass", " sugar"], 3)),
    "lambada": (
        {"passage": "She handed him the key and told him to lock the door"},
        mc.Example([("She handed him the key and told him to lock the", " door")], 0)),
}


def test_every_task_has_a_converter_test():
  assert set(mc.TFDS_TASKS) == set(RECORDS)


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_tfds_converter(tmp_path, name):
  task = mc.TFDS_TASKS[name]
  features = SCIQ_FEATURES if name == "sciq" else tfds.builder(task.tfds_name, data_dir=tmp_path).info.features
  record, expected = RECORDS[name]
  assert set(record) == set(features)
  assert task.convert(_real_record(features, record)) == expected


def test_sciq_without_support_starts_at_the_question():
  record = dict(RECORDS["sciq"][0], support="")
  example = mc.TFDS_TASKS["sciq"].convert(_real_record(SCIQ_FEATURES, record))
  assert example.options[0][0] == "Question: What do plants make in sunlight?\nAnswer:"


def test_load_tfds_task_reads_the_default_split_up_to_the_limit(tmp_path, monkeypatch):
  features = tfds.builder("piqa", data_dir=tmp_path).info.features
  records = [_real_record(features, RECORDS["piqa"][0])] * 5
  asked = {}

  def data_source(name, *, split, data_dir, download):
    asked.update(name=name, split=split, data_dir=data_dir, download=download)
    return records

  ready = types.SimpleNamespace(is_prepared=lambda: True, info=types.SimpleNamespace(splits={"validation": 5}))
  monkeypatch.setattr(tfds, "builder", lambda name, data_dir: ready)
  monkeypatch.setattr(tfds, "data_source", data_source)
  examples = mc.load_tfds_task("piqa", tmp_path, limit=3)
  assert examples == [RECORDS["piqa"][1]] * 3
  assert asked == {"name": "piqa", "split": "validation", "data_dir": str(tmp_path), "download": False}
  with pytest.raises(ValueError, match="has no split 'train'; it has validation"):
    mc.load_tfds_task("piqa", tmp_path, split="train")


def test_load_tfds_task_errors_are_plain(tmp_path):
  with pytest.raises(ValueError, match="choose one of hellaswag, piqa, arc_easy"):
    mc.load_tfds_task("mmlu", tmp_path)
  with pytest.raises(ValueError, match="does not exist"):
    mc.load_tfds_task("piqa", tmp_path / "absent")
  with pytest.raises(ValueError, match=r"task 'piqa' \(TFDS 'piqa'\) is not built in"):
    mc.load_tfds_task("piqa", tmp_path)
  with pytest.raises(ValueError, match=r"task 'sciq' \(TFDS 'sciq'\) is not built in"):
    mc.load_tfds_task("sciq", tmp_path)


def test_real_model_compiles_only_for_its_first_batch():
  model = compose(seed_design("gpt2"), ModelConfig(32, 2, VOCAB))
  jitted = jitted_forward(model)
  shapes = []

  def forward(tokens_BxL: jax.Array) -> jax.Array:
    shapes.append(tokens_BxL.shape)
    return jitted(tokens_BxL)

  tasks = {name: mc.load_jsonl(FIXTURES / f"{name}.jsonl") for name in ("choices", "contexts", "passages")}
  compiles = []

  def listener(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
      compiles.append(event)

  mc.score(rows(forward), ByteTokenizer(), tasks["choices"][:1], batch=4, length=48)  # compiles
  jax.monitoring.register_event_duration_secs_listener(listener)
  try:
    results = mc.evaluate_tasks(rows(forward), ByteTokenizer(), tasks, batch=4, length=48)
    compiles_after_the_first_batch = len(compiles)
    mc.score(rows(forward), ByteTokenizer(), tasks["choices"][:1], batch=4, length=40)  # a new shape compiles
  finally:
    jax.monitoring.unregister_event_duration_listener(listener)
  assert compiles_after_the_first_batch == 0 and compiles
  assert len(shapes) > 4 and set(shapes[:-1]) == {(4, 48)}
  for name, result in results.items():
    assert 0.0 <= result["acc"] <= 1.0 and 0.0 <= result["acc_norm"] <= 1.0
    assert result["n"] == len(tasks[name])
  assert results["passages"]["chance"] == 0.0
