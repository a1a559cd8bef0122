"""The phylogeny's layout (generations, packed columns near the parents) and its SVG."""

import re

from genesys_jax.evolve.store_rows import DesignRow
from genesys_jax.report.phylogeny import generations, layout_tree, pack, phylogeny_svg


def _row(i: int, parents: tuple[int, ...] = (), seed: bool = False) -> DesignRow:
  return DesignRow(i, f"n{i}", f"h{i}", None, seed, None if seed else "mutation", "implemented", f"designs/n{i}",
                   parents, "", (), float(i))


def test_generation_is_the_longest_path_from_a_root():
  rows = [_row(1, seed=True), _row(2, seed=True), _row(3, (1,)), _row(4, (3,)), _row(5, (2, 4)), _row(6)]
  assert generations(rows) == {1: 0, 2: 0, 3: 1, 4: 2, 5: 3, 6: 0}


def test_pack_keeps_order_and_gap_and_stays_closest_to_the_wish():
  assert pack([0.0, 0.0, 0.0], 10.0) == [-10.0, 0.0, 10.0]
  assert pack([0.0, 50.0, 100.0], 10.0) == [0.0, 50.0, 100.0]
  packed = pack([5.0, 0.0, 40.0], 10.0)
  assert packed[1] - packed[0] >= 10.0 - 1e-9 and packed[2] == 40.0


def test_layout_places_every_design_in_its_generation_without_overlap():
  rows = [_row(1, seed=True), _row(2, seed=True)] + [_row(i, (1 if i % 2 else 2,)) for i in range(3, 13)]
  rows += [_row(13, (3, 4)), _row(14, (13,))]
  tree = layout_tree(rows, column_gap=100.0, row_gap=30.0)
  assert set(tree.x) == set(tree.y) == {r.id for r in rows}
  assert {tree.x[i] for i in (1, 2)} == {0.0} and tree.x[13] == 200.0 and tree.x[14] == 300.0
  for column in tree.columns:
    ys = sorted(tree.y[i] for i in column)
    assert all(b - a >= 30.0 - 1e-6 for a, b in zip(ys, ys[1:]))
  assert min(tree.y.values()) == 0.0 and tree.height == max(tree.y.values())
  assert tree.y[14] == tree.y[13]  # an only child sits level with its parent
  children_of_1 = [tree.y[i] for i in range(3, 13) if i % 2]
  children_of_2 = [tree.y[i] for i in range(3, 13) if not i % 2]
  assert (max(children_of_1) < min(children_of_2)) == (tree.y[1] < tree.y[2])  # siblings are grouped


def test_every_design_is_a_linked_node_coloured_shaped_and_muted_by_its_record(hand_built):
  run, ids = hand_built
  svg = phylogeny_svg(run)
  nodes = re.findall(r'<a class="(node[^"]*)" data-design="([^"]+)"[^>]*href="([^"]+)"><title>', svg)
  assert sorted(name for _, name, _ in nodes) == sorted(ids)
  classes = {name: cls for cls, name, _ in nodes}
  assert all(href == f"designs/{name}.html" for _, name, href in nodes)
  assert {n for n, c in classes.items() if "muted" in c} == {"d4", "d5", "d6"}  # rejected, duplicate, diverged
  assert {n for n, c in classes.items() if "seed" in c} == {"alpha", "beta"}
  node = {name: re.search(rf'data-design="{name}".*?</a>', svg, re.S).group(0) for name in ids}
  assert "<polygon" in node["d1"] and "<rect" in node["alpha"] and "<circle" in node["d2"]  # micro3, micro2, micro1
  assert 'stroke-dasharray' in node["d4"] and 'fill="#ffffff"' not in node["d1"]
  edges = re.findall(r'data-child="(\d+)" data-parent="(\d+)"', svg)
  assert sorted(int(p) for c, p in edges if int(c) == ids["d3"]) == sorted([ids["d1"], ids["beta"]])
  assert len(edges) == 7  # one per parent: d1..d6 have one each, the crossover d3 two
