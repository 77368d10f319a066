// Sortable tables for Barwise reports: click a header to sort by that column (numbers by value,
// using a cell's data-v when present; text otherwise); click again to reverse.
(function () {
  "use strict";
  window.addEventListener("error", function (e) {
    document.body.dataset.error = String(e.message || e);
  });
  function cellValue(row, col) {
    var cell = row.cells[col];
    return cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.querySelectorAll("th");
    headers.forEach(function (th, col) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var asc = th.dataset.order !== "asc";
        headers.forEach(function (h) { delete h.dataset.order; });
        th.dataset.order = asc ? "asc" : "desc";
        rows.sort(function (a, b) {
          var x = cellValue(a, col), y = cellValue(b, col);
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
