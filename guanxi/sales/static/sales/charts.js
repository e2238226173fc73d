/* Sales charts that web/charts.js does not draw: the forecast (won, commit and best case stacked per
 * rep, the quota as a line). Data comes from <script type="application/json"> like every chart. */
(function () {
  "use strict";

  function draw(element) {
    var source = document.getElementById(element.dataset.chart);
    if (!source || !window.echarts || element.dataset.chartDrawn) return;
    var data = JSON.parse(source.textContent);
    if (data.kind !== "sales_forecast") return;
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    chart.setOption({
      color: ["#2b8a3e", "#3b5bdb", "#748ffc", "#f76707"],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, right: 0, icon: "roundRect", itemWidth: 12, itemHeight: 8 },
      grid: { left: 8, right: 8, top: 36, bottom: 4, containLabel: true },
      xAxis: { type: "category", data: data.labels, axisTick: { show: false } },
      yAxis: { type: "value", splitLine: { lineStyle: { color: "#eef1f6" } } },
      series: data.series.map(function (s) {
        var values = s.values.map(Number);
        return s.line
          ? { name: s.name, type: "line", data: values, symbol: "diamond", symbolSize: 10, lineStyle: { type: "dashed" } }
          : { name: s.name, type: "bar", stack: s.stack, data: values, barMaxWidth: 36 };
      }),
    });
    element.dataset.chartDrawn = "1";
    if (window.ResizeObserver) new ResizeObserver(function () { chart.resize(); }).observe(element);
  }

  function drawAll() { document.querySelectorAll("[data-chart]").forEach(draw); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
