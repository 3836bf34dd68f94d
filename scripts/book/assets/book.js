/* global window, document */
// Draws every chart of the page with the site's one copy of plotly.js. Each figure sits as JSON in a
// <script type="application/json" class="kvlab-figure" data-for="chart-N"> next to its <div>. A chart
// that drew gets data-drawn="true"; one that failed logs to the console (the book's test fails on it).
(function () {
  'use strict';
  var figures = document.querySelectorAll('script.kvlab-figure');
  if (figures.length === 0) return;
  if (!window.Plotly) {
    console.error('kvcache-lab book: plotly.js did not load, charts cannot be drawn');
    return;
  }
  figures.forEach(function (script) {
    var el = document.getElementById(script.getAttribute('data-for'));
    var fig;
    try {
      fig = JSON.parse(script.textContent);
    } catch (err) {
      console.error('kvcache-lab book: chart ' + script.getAttribute('data-for') + ' has no valid figure: ' + err);
      return;
    }
    var layout = Object.assign({ height: 420 }, fig.layout || {});
    var config = Object.assign({ responsive: true, displaylogo: false }, fig.config || {});
    window.Plotly.newPlot(el, fig.data || [], layout, config).then(function () {
      el.setAttribute('data-drawn', 'true');
    }, function (err) {
      console.error('kvcache-lab book: chart ' + el.id + ' failed to draw: ' + err);
    });
  });
})();
