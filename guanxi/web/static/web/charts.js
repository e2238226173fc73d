/* Draws ECharts from data the server embedded with json_script, for every page with charts.
 * An element <div data-chart="ID"> is drawn from <script id="ID" type="application/json">,
 * whose "kind" chooses the chart: orders_revenue (bars + line), bar (horizontal), pie,
 * heatmap (cohorts, RFM grid), stacked (monthly shares), pareto (ABC curve), columns or histogram. */
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

  // A number short enough for an axis or a bar's label: 198.6万 / 1.99M above ten thousand.
  function short(value) {
    return Math.abs(value) >= 1e4 ? compact(value) : numberFormat(value);
  }

  // Labels never overlap: ECharts drops those that would (hideOverlap) rather than drawing them
  // over each other, and value axes show few, short numbers.
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
      axisLabel: Object.assign({ hideOverlap: true }, AXIS),
    };
  }

  function valueAxis(extra) {
    return Object.assign(
      {
        type: "value",
        splitNumber: 4,
        axisLabel: { color: AXIS.color, fontSize: AXIS.fontSize, formatter: short, hideOverlap: true },
        splitLine: GRID_LINE,
      },
      extra || {}
    );
  }

  // The width text takes in the chart's font, so grids leave room for the longest label.
  function textWidth(text) {
    var context = textWidth.canvas || (textWidth.canvas = document.createElement("canvas").getContext("2d"));
    context.font = "12px " + FONT;
    return context.measureText(String(text)).width;
  }

  function widest(texts) {
    return texts.reduce(function (most, text) { return Math.max(most, textWidth(text)); }, 0);
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
        yAxis: [valueAxis({ minInterval: 1 }), valueAxis({ splitLine: { show: false } })],
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
      // The values are written at the bars' ends: the grid keeps room for the longest of them.
      var ends = data.values.map(short);
      return {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: numberFormat },
        grid: { left: 8, right: 16 + widest(ends), top: 8, bottom: 4, containLabel: true },
        xAxis: valueAxis({ minInterval: 1, splitNumber: 3 }),
        yAxis: {
          type: "category",
          data: data.labels,
          inverse: true,
          axisTick: { show: false },
          axisLine: { show: false },
          axisLabel: { color: "#5f6b7f", fontSize: 12, width: 120, overflow: "truncate", interval: 0 },
        },
        series: [
          {
            name: data.series_label,
            type: "bar",
            data: data.values,
            barMaxWidth: 28,
            itemStyle: { borderRadius: [0, 6, 6, 0], color: "#3b5bdb" },
            label: { show: true, position: "right", color: "#5f6b7f", formatter: function (p) { return short(p.value); } },
          },
        ],
      };
    },

    pie: function (data) {
      // Every slice says its share on the ring (when there is room) and its count in the legend;
      // the total sits in the middle.
      var total = data.values.reduce(function (sum, slice) { return sum + slice.value; }, 0);
      var counts = {};
      data.values.forEach(function (slice) { counts[slice.name] = slice.value; });
      return {
        tooltip: { trigger: "item", valueFormatter: numberFormat },
        legend: {
          bottom: 0,
          left: "center",
          icon: "circle",
          itemWidth: 8,
          itemHeight: 8,
          textStyle: { color: "#5f6b7f" },
          formatter: function (name) { return name + " " + short(counts[name]); },
        },
        title: {
          text: short(total),
          subtext: data.series_label,
          left: "center",
          top: "34%",
          textStyle: { fontSize: 18, fontWeight: 700, color: "#1b2437" },
          subtextStyle: { fontSize: 12, color: "#8a94a6" },
          itemGap: 4,
        },
        series: [
          {
            name: data.series_label,
            type: "pie",
            radius: ["48%", "72%"],
            center: ["50%", "42%"],
            avoidLabelOverlap: true,
            itemStyle: { borderColor: "#fff", borderWidth: 2, borderRadius: 4 },
            label: {
              show: true,
              position: "inside",
              color: "#fff",
              fontSize: 11,
              fontWeight: 600,
              formatter: function (p) { return p.percent >= 6 ? Math.round(p.percent) + "%" : ""; },
            },
            labelLine: { show: false },
            emphasis: { label: { show: true, fontSize: 12, formatter: "{d}%" } },
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
        yAxis: data.percent
          ? valueAxis({ max: 100, interval: 25, axisLabel: { color: AXIS.color, fontSize: AXIS.fontSize, formatter: "{value}%" } })
          : valueAxis(),
        series: data.series.map(function (s) {
          return {
            name: s.name,
            type: "bar",
            stack: "total",
            data: s.values,
            barMaxWidth: data.labels.length <= 6 ? 56 : 22,
            // Shares are written on their segment when a few wide bars leave room for them.
            label: {
              show: !!data.percent && data.labels.length <= 6,
              color: "#fff",
              fontSize: 11,
              formatter: function (p) { return p.value >= 8 ? Math.round(p.value) + "%" : ""; },
            },
          };
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
        yAxis: valueAxis(),
        series: [series],
      };
    },

    // Columns of bins that touch, as a histogram's do (predicted lifetime value bands).
    histogram: function (data) {
      var option = builders.columns(data);
      option.series[0].barCategoryGap = "0%";
      option.series[0].barMaxWidth = null;
      return option;
    },
  };

  function draw(element) {
    if (element.dataset.chartDrawn) return;
    var source = document.getElementById(element.dataset.chart);
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    var build = builders[data.kind];
    if (!build) return;
    // A horizontal bar chart grows with its bars, so thirty provinces do not share the room of five.
    if (data.kind === "bar" && data.labels.length > 8) {
      element.style.height = Math.max(element.clientHeight, 24 * data.labels.length + 48) + "px";
    }
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
