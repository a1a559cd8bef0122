// Sortable tables (click a header) and lineage highlighting in the phylogeny (hover a design).
(function () {
  function cellValue(cell) {
    const raw = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
    const number = parseFloat(raw.replace("\u2212", "-").replace("\u00b1", "").replace(/,/g, ""));
    return { raw: raw, number: isNaN(number) ? null : number };
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, column) {
      th.addEventListener("click", function () {
        const ascending = !th.classList.contains("asc");
        table.querySelectorAll("thead th").forEach(function (other) { other.classList.remove("asc", "desc"); });
        th.classList.add(ascending ? "asc" : "desc");
        const body = table.tBodies[0];
        const rows = Array.from(body.rows).filter(function (row) { return row.cells.length > column; });
        rows.sort(function (a, b) {
          const x = cellValue(a.cells[column]), y = cellValue(b.cells[column]);
          if (x.number === null || y.number === null) {
            if (x.number !== y.number) return x.number === null ? 1 : -1;  // blanks last
            return ascending ? x.raw.localeCompare(y.raw) : y.raw.localeCompare(x.raw);
          }
          return ascending ? x.number - y.number : y.number - x.number;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });

  document.querySelectorAll("svg.phylogeny").forEach(function (svg) {
    const parents = {}, children = {};
    svg.querySelectorAll(".node").forEach(function (node) {
      const id = node.dataset.id;
      parents[id] = node.dataset.parents ? node.dataset.parents.split(" ") : [];
      parents[id].forEach(function (p) { (children[p] = children[p] || []).push(id); });
    });
    function reach(start, links) {
      const seen = new Set([start]), stack = [start];
      while (stack.length) {
        (links[stack.pop()] || []).forEach(function (next) {
          if (!seen.has(next)) { seen.add(next); stack.push(next); }
        });
      }
      return seen;
    }
    svg.querySelectorAll(".node").forEach(function (node) {
      node.addEventListener("mouseenter", function () {
        const lineage = new Set([...reach(node.dataset.id, parents), ...reach(node.dataset.id, children)]);
        svg.classList.add("focus");
        svg.querySelectorAll(".node").forEach(function (n) { n.classList.toggle("lit", lineage.has(n.dataset.id)); });
        svg.querySelectorAll(".edge").forEach(function (e) {
          e.classList.toggle("lit", lineage.has(e.dataset.child) && lineage.has(e.dataset.parent));
        });
      });
      node.addEventListener("mouseleave", function () { svg.classList.remove("focus"); });
    });
  });
})();
