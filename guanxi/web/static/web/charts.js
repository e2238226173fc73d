/* Draws ECharts from data the server embedded with json_script.
 * An element <div data-chart="ID"> is drawn from <script id="ID" type="application/json">,
 * whose "kind" chooses the chart: orders_revenue (bars + line), bar, or pie. */
(function () {
  "use strict";

  var PALETTE = ["#3b5bdb", "#f76707", "#12b886", "#7048e8", "#1098ad", "#f59f00", "#e64980", "#868e96"];
  var AXIS = { color: "#8a94a6", fontSize: 11 };
  var GRID_LINE = { lineStyle: { color: "#eef1f6" } };
  var FONT = getComputedStyle(document.body).fontFamily;

  function locale() {
    return (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0 ? "ZH" : "EN";
  }

  function numberFormat(value) {
    return Number(value).toLocaleString(document.documentElement.lang || undefined, {
      maximumFractionDigits: 2,
    });
  }

  function compact(value) {
    var abs = Math.abs(value);
    if (locale() === "ZH") {
      if (abs >= 1e8) return numberFormat(value / 1e8) + "亿";
      if (abs >= 1e4) return numberFormat(value / 1e4) + "万";
      return numberFormat(value);
    }
    if (abs >= 1e9) return numberFormat(value / 1e9) + "B";
    if (abs >= 1e6) return numberFormat(value / 1e6) + "M";
    if (abs >= 1e3) return numberFormat(value / 1e3) + "k";
    return numberFormat(value);
  }

  var builders = {
    orders_revenue: function (data) {
      return {
        legend: { top: 0, right: 0, icon: "roundRect", itemWidth: 12, itemHeight: 8 },
        tooltip: {
          trigger: "axis",
          axisPointer: { type: "shadow" },
          valueFormatter: numberFormat,
        },
        grid: { left: 8, right: 8, top: 36, bottom: 4, containLabel: true },
        xAxis: {
          type: "category",
          data: data.labels,
          axisTick: { show: false },
          axisLine: { lineStyle: { color: "#d3d9e5" } },
          axisLabel: AXIS,
        },
        yAxis: [
          { type: "value", axisLabel: AXIS, splitLine: GRID_LINE, minInterval: 1 },
          {
            type: "value",
            axisLabel: { color: AXIS.color, fontSize: AXIS.fontSize, formatter: compact },
            splitLine: { show: false },
          },
        ],
        series: [
          {
            name: data.orders_label,
            type: "bar",
            data: data.orders,
            barMaxWidth: 22,
            itemStyle: { borderRadius: [4, 4, 0, 0], color: "#748ffc" },
          },
          {
            name: data.revenue_label,
            type: "line",
            yAxisIndex: 1,
            data: data.revenue,
            smooth: 0.3,
            symbol: "circle",
            symbolSize: 6,
            lineStyle: { width: 2.5, color: "#f76707" },
            itemStyle: { color: "#f76707" },
            areaStyle: {
              color: {
                type: "linear", x: 0, y: 0, x2: 0, y2: 1,
                colorStops: [
                  { offset: 0, color: "rgba(247, 103, 7, 0.16)" },
                  { offset: 1, color: "rgba(247, 103, 7, 0)" },
                ],
              },
            },
          },
        ],
      };
    },

    bar: function (data) {
      return {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: numberFormat },
        grid: { left: 8, right: 40, top: 8, bottom: 4, containLabel: true },
        xAxis: { type: "value", axisLabel: AXIS, splitLine: GRID_LINE, minInterval: 1 },
        yAxis: {
          type: "category",
          data: data.labels,
          inverse: true,
          axisTick: { show: false },
          axisLine: { show: false },
          axisLabel: { color: "#5f6b7f", fontSize: 12 },
        },
        series: [
          {
            name: data.series_label,
            type: "bar",
            data: data.values,
            barMaxWidth: 28,
            itemStyle: { borderRadius: [0, 6, 6, 0], color: "#3b5bdb" },
            label: { show: true, position: "right", color: "#5f6b7f", formatter: function (p) { return numberFormat(p.value); } },
          },
        ],
      };
    },

    pie: function (data) {
      return {
        tooltip: { trigger: "item", valueFormatter: numberFormat },
        legend: { bottom: 0, left: "center", icon: "circle", itemWidth: 8, itemHeight: 8, textStyle: { color: "#5f6b7f" } },
        series: [
          {
            name: data.series_label,
            type: "pie",
            radius: ["48%", "72%"],
            center: ["50%", "44%"],
            avoidLabelOverlap: true,
            itemStyle: { borderColor: "#fff", borderWidth: 2, borderRadius: 4 },
            label: { show: false },
            emphasis: { label: { show: true, fontSize: 13, fontWeight: 600, formatter: "{b}\n{d}%" } },
            data: data.values,
          },
        ],
      };
    },
  };

  function draw(element) {
    if (element.dataset.chartDrawn) return;
    var source = document.getElementById(element.dataset.chart);
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    var build = builders[data.kind];
    if (!build) return;
    var chart = window.echarts.init(element, null, { renderer: "canvas", locale: locale() });
    var option = build(data);
    option.color = PALETTE;
    option.textStyle = { fontFamily: FONT };
    option.animationDuration = 400;
    chart.setOption(option);
    element.dataset.chartDrawn = "1";
    if (window.ResizeObserver) {
      new ResizeObserver(function () { chart.resize(); }).observe(element);
    }
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(draw);
  }

  // htmx:load also fires for content swapped in later, so charts in fragments are drawn too.
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
})();
