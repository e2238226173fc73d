/* Draws ECharts from data the server embedded with json_script, for every page with charts.
 * An element <div data-chart="ID"> is drawn from <script id="ID" type="application/json">,
 * whose "kind" chooses the chart: orders_revenue (bars + line), bar (horizontal), pie,
 * heatmap (cohorts, RFM grid), stacked (monthly shares), pareto (ABC curve) or columns. */
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

  // One decimal keeps heatmap cells and percentage labels short.
  function shortNumber(value) {
    return Number(value).toLocaleString(document.documentElement.lang || undefined, { maximumFractionDigits: 1 });
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

  function category(labels, name) {
    return {
      type: "category",
      data: labels,
      name: name || "",
      nameLocation: "middle",
      nameGap: 30,
      nameTextStyle: { color: "#5f6b7f" },
      axisTick: { show: false },
      axisLine: { lineStyle: { color: "#d3d9e5" } },
      axisLabel: AXIS,
    };
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
        xAxis: category(data.labels),
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

    heatmap: function (data) {
      var values = data.values.map(function (cell) { return cell[2]; });
      return {
        tooltip: {
          formatter: function (p) {
            return data.y_labels[p.value[1]] + " · " + data.x_labels[p.value[0]] + ": " +
              shortNumber(p.value[2]) + data.suffix;
          },
        },
        grid: { left: data.y_name ? 36 : 8, right: 64, top: 8, bottom: data.x_name ? 36 : 8, containLabel: true },
        xAxis: category(data.x_labels, data.x_name),
        yAxis: category(data.y_labels, data.y_name),
        visualMap: {
          min: 0,
          max: Math.max.apply(null, values.concat([1])),
          calculable: true,
          orient: "vertical",
          right: 0,
          top: "middle",
          itemHeight: 120,
          inRange: { color: ["#edf2ff", "#748ffc", "#364fc7"] },
          textStyle: AXIS,
        },
        series: [{
          name: data.series_label,
          type: "heatmap",
          data: data.values,
          label: { show: true, fontSize: 10, formatter: function (p) { return shortNumber(p.value[2]); } },
          itemStyle: { borderColor: "#fff", borderWidth: 1 },
        }],
      };
    },

    stacked: function (data) {
      return {
        legend: { top: 0, right: 0, icon: "roundRect", itemWidth: 12, itemHeight: 8 },
        tooltip: {
          trigger: "axis",
          axisPointer: { type: "shadow" },
          valueFormatter: function (v) { return shortNumber(v) + (data.percent ? "%" : ""); },
        },
        grid: { left: 8, right: 8, top: 36, bottom: 4, containLabel: true },
        xAxis: category(data.labels),
        yAxis: { type: "value", max: data.percent ? 100 : null, axisLabel: AXIS, splitLine: GRID_LINE },
        series: data.series.map(function (s) {
          return { name: s.name, type: "bar", stack: "total", data: s.values, barMaxWidth: 22 };
        }),
      };
    },

    pareto: function (data) {
      return {
        tooltip: {
          trigger: "axis",
          formatter: function (items) {
            var p = items[0].value;
            return data.x_label + ": " + shortNumber(p[0]) + "%<br>" + data.y_label + ": " + shortNumber(p[1]) + "%";
          },
        },
        grid: { left: 36, right: 44, top: 16, bottom: 28, containLabel: true },
        xAxis: { type: "value", min: 0, max: 100, name: data.x_label, nameLocation: "middle", nameGap: 26, axisLabel: AXIS, splitLine: GRID_LINE },
        yAxis: { type: "value", min: 0, max: 100, name: data.y_label, nameLocation: "middle", nameGap: 40, axisLabel: AXIS, splitLine: GRID_LINE },
        series: [{
          type: "line",
          data: data.points,
          showSymbol: data.points.length <= 40,
          lineStyle: { width: 2.5, color: "#3b5bdb" },
          areaStyle: { color: "rgba(59, 91, 219, 0.08)" },
          markLine: {
            symbol: "none",
            lineStyle: { type: "dashed", color: "#f76707" },
            label: { formatter: "{c}%", color: "#f76707" },
            data: data.marks.map(function (y) { return { yAxis: y }; }),
          },
        }],
      };
    },

    columns: function (data) {
      var series = {
        name: data.series_label,
        type: "bar",
        data: data.values,
        barMaxWidth: 32,
        itemStyle: { borderRadius: [4, 4, 0, 0], color: "#3b5bdb" },
      };
      if (data.mark) {
        series.markLine = {
          symbol: "none",
          lineStyle: { type: "dashed", color: "#f76707" },
          label: { formatter: "{c}%", color: "#f76707" },
          data: [{ yAxis: data.mark }],
        };
      }
      return {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: shortNumber },
        grid: { left: 8, right: data.mark ? 48 : 8, top: 16, bottom: 4, containLabel: true },
        xAxis: category(data.labels),
        yAxis: { type: "value", axisLabel: AXIS, splitLine: GRID_LINE },
        series: [series],
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
