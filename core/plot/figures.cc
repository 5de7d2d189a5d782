#include "core/plot/figures.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/plot/svg.h"
#include "core/util/eigen_types.h"

namespace eprop::plot {
namespace {

// Page geometry of the stacked figures, in pixels.
constexpr double kWidth = 960.0;
constexpr double kLeft = 84.0;    // y tick labels and y label
constexpr double kRight = 180.0;  // legends
constexpr double kTop = 44.0;     // figure title
constexpr double kGap = 34.0;     // above each panel, for its title
constexpr double kBottom = 54.0;  // x tick labels and x label
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

constexpr char kLifColour[] = "#222222";
constexpr char kAlifColour[] = "#0b5394";
constexpr char kBackgroundColour[] = "#9a9a9a";
constexpr char kNeutralColour[] = "#555555";

// One panel of a stacked figure. `draw` renders the content into a panel
// whose box and ranges are set; the frame, title, grid, y axis and legend
// are drawn by the layout.
struct StackedPanel {
  std::string title;  // without the letter
  double height = 120.0;
  Interval y;
  std::string y_label;
  double y_min_step = 0.0;  // 1 for integer axes (neuron indices)
  bool grid = true;
  std::vector<LegendEntry> legend;
  std::function<void(Panel*)> draw;
};

// The shared x axis of a stacked figure.
struct SharedX {
  Interval range;
  std::string label;
  double min_step = 0.0;
};

void FigureTitle(SvgDocument* doc, const std::string& title) {
  if (title.empty()) return;
  TextStyle style;
  style.size = 16.0;
  style.bold = true;
  style.css_class = "figure-title";
  doc->Text(kLeft, 26.0, title, style);
}

double PanelHeight(const StackedPanel& p) {
  return std::max(p.height, p.legend.size() * Panel::kLegendRow + 6.0);
}

// Stacks the panels top to bottom, letters their titles (a), (b), ... and
// labels the x axis of the bottom one.
std::string StackPanels(const std::string& title, const SharedX& x,
                        const std::vector<StackedPanel>& panels) {
  double height = kTop + kBottom;
  for (const StackedPanel& p : panels) height += kGap + PanelHeight(p);
  SvgDocument doc(kWidth, height);
  FigureTitle(&doc, title);
  double top = kTop;
  for (size_t i = 0; i < panels.size(); ++i) {
    const StackedPanel& spec = panels[i];
    top += kGap;
    const Box box{kLeft, top, kWidth - kLeft - kRight, PanelHeight(spec)};
    Panel panel(&doc, box, x.range, spec.y);
    panel.Title(absl::StrCat("(", std::string(1, static_cast<char>('a' + i)),
                             ") ", spec.title));
    if (spec.grid) panel.YGrid(spec.y_min_step);
    if (spec.draw) spec.draw(&panel);
    const bool bottom = i + 1 == panels.size();
    panel.XAxis(bottom ? x.label : "", bottom, x.min_step);
    panel.YAxis(spec.y_label, spec.y_min_step);
    panel.Legend(spec.legend);
    top += box.height;
  }
  return doc.ToString();
}

// A document with only the title and a "no data" message.
std::string NoDataFigure(const std::string& title) {
  SvgDocument doc(kWidth, 200.0);
  FigureTitle(&doc, title);
  Panel panel(&doc, {kLeft, kTop, kWidth - kLeft - kRight, 120.0}, {}, {});
  panel.Message("no data");
  return doc.ToString();
}

std::vector<double> Column(const MatD& m, int j) {
  std::vector<double> out(m.rows());
  for (int t = 0; t < m.rows(); ++t) out[t] = m(t, j);
  return out;
}

// Times t * dt of the rows of a [T x n] matrix.
std::vector<double> Times(int rows, double dt) {
  std::vector<double> out(rows);
  for (int t = 0; t < rows; ++t) out[t] = t * dt;
  return out;
}

std::vector<double> Values(const MatD& m) {
  return std::vector<double>(m.data(), m.data() + m.size());
}

Stroke Line(const std::string& colour, double width = 1.5,
            const std::string& dash = "") {
  return {colour, width, dash, 1.0};
}

// ------------------------------------------------------------ TrialFigure

// Colour of input group g; a group named "background" is grey.
std::string GroupColour(const TrialData& d, int g) {
  if (g < 0) return kLifColour;
  if (g < static_cast<int>(d.input_group_names.size()) &&
      d.input_group_names[g] == "background") {
    return kBackgroundColour;
  }
  return PaletteColour(g);
}

bool HasGroups(const TrialData& d) {
  return !d.input_group.empty() &&
         static_cast<int>(d.input_group.size()) == d.inputs.cols();
}

std::string GroupName(const TrialData& d, int g) {
  if (g < static_cast<int>(d.input_group_names.size())) {
    return d.input_group_names[g];
  }
  return absl::StrCat("group ", g + 1);
}

// Spike marks (one <rect class=css_class> per spike) of the first n columns
// of `spikes`, one row per neuron, filled with colours[j].
void DrawRaster(Panel* p, const MatD& spikes, int n, double dt,
                const std::vector<std::string>& colours,
                const std::string& css_class) {
  const double w = std::max(1.5, 0.8 * dt * p->XScale());
  const double h = std::max(1.0, std::min(0.8 * p->YScale(), 6.0));
  std::vector<std::string> distinct;
  for (int j = 0; j < n; ++j) {
    if (std::find(distinct.begin(), distinct.end(), colours[j]) ==
        distinct.end()) {
      distinct.push_back(colours[j]);
    }
  }
  for (const std::string& colour : distinct) {
    p->doc()->BeginGroup("raster", colour);
    for (int j = 0; j < n; ++j) {
      if (colours[j] != colour) continue;
      for (int t = 0; t < spikes.rows(); ++t) {
        if (!(spikes(t, j) > 0.5)) continue;
        p->doc()->Rect(p->X(t * dt), p->Y(j) - h / 2.0, w, h, "", css_class);
      }
    }
    p->doc()->EndGroup();
  }
}

StackedPanel RasterPanel(const MatD& spikes, int n, double dt,
                         std::vector<std::string> colours,
                         std::string css_class) {
  StackedPanel p;
  p.height = std::clamp(n * 5.0, 100.0, 170.0);
  p.y = {-0.5, n - 0.5};
  p.y_min_step = 1.0;
  p.grid = false;
  p.draw = [&spikes, n, dt, colours = std::move(colours),
            css_class = std::move(css_class)](Panel* panel) {
    DrawRaster(panel, spikes, n, dt, colours, css_class);
  };
  return p;
}

// Input raster, coloured by group with one legend entry per group present
// (in ascending group order) when groups are given.
StackedPanel InputPanel(const TrialData& d) {
  const int n = d.inputs.cols();
  std::vector<std::string> colours(n, kLifColour);
  std::vector<int> groups;
  if (HasGroups(d)) {
    for (int j = 0; j < n; ++j) {
      const int g = d.input_group[j];
      colours[j] = GroupColour(d, g);
      if (g >= 0) groups.push_back(g);
    }
  }
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  StackedPanel p = RasterPanel(d.inputs, n, d.dt_ms, colours, "spike-in");
  for (int g : groups) {
    p.legend.push_back(
        {GroupName(d, g), Swatch::kBox, Line(GroupColour(d, g))});
  }
  p.title = absl::StrCat("Input spikes (", n, " inputs)");
  p.y_label = "input";
  return p;
}

StackedPanel NeuronRaster(const MatD& spikes, double dt,
                          const std::string& population,
                          const std::string& colour, const std::string& cls) {
  const int n = std::min<int>(spikes.cols(), kMaxRasterNeurons);
  StackedPanel p =
      RasterPanel(spikes, n, dt, std::vector<std::string>(n, colour), cls);
  p.title = absl::StrCat(population, " neurons: spikes");
  if (n < spikes.cols()) {
    absl::StrAppend(&p.title, " (first ", n, " of ", spikes.cols(), ")");
  }
  p.y_label = "neuron";
  return p;
}

// Lines of the first kMaxTracePanelLines columns of m, labelled
// "<prefix> 1", "<prefix> 2", ...
StackedPanel TracePanel(const MatD& m, double dt, std::string title,
                        std::string y_label, const std::string& prefix) {
  const int k = std::min<int>(m.cols(), kMaxTracePanelLines);
  StackedPanel p;
  p.title = std::move(title);
  p.y_label = std::move(y_label);
  p.height = 110.0;
  const Interval r = FiniteRange(Values(m.leftCols(k)));
  p.y = NiceInterval(r.lo, r.hi, 4);
  for (int j = 0; j < k; ++j) {
    p.legend.push_back({absl::StrCat(prefix, " ", j + 1), Swatch::kLine,
                        Line(PaletteColour(j))});
  }
  p.draw = [&m, k, dt](Panel* panel) {
    const std::vector<double> ts = Times(m.rows(), dt);
    for (int j = 0; j < k; ++j) {
      panel->Series(ts, Column(m, j), Line(PaletteColour(j)));
    }
  };
  return p;
}

StackedPanel ThresholdPanel(const TrialData& d) {
  StackedPanel p = TracePanel(d.alif_thresholds, d.dt_ms,
                              "Adaptive thresholds of ALIF neurons",
                              "threshold A_j(t)", "ALIF neuron");
  const int k = std::min<int>(d.alif_thresholds.cols(), kMaxTracePanelLines);
  Interval r = FiniteRange(Values(d.alif_thresholds.leftCols(k)));
  r.lo = std::min(r.lo, d.v_th);
  r.hi = std::max(r.hi, d.v_th);
  p.y = NiceInterval(r.lo, r.hi, 4);
  const Stroke baseline = Line(kNeutralColour, 1.2, "5 4");
  p.legend.push_back({"baseline v_th", Swatch::kLine, baseline});
  auto lines = std::move(p.draw);
  const double v_th = d.v_th;
  p.draw = [lines = std::move(lines), baseline, v_th](Panel* panel) {
    panel->HLine(v_th, baseline, "threshold-baseline");
    lines(panel);
  };
  return p;
}

std::string OutputName(const TrialData& d, int k) {
  if (k < static_cast<int>(d.output_names.size())) return d.output_names[k];
  return absl::StrCat("output ", k + 1);
}

// Colour of output k: that of the input group of the same name if any
// (so "left" cues and the "left" class match), else palette colour k.
std::string OutputColour(const TrialData& d, int k) {
  const std::string name = OutputName(d, k);
  for (size_t g = 0; g < d.input_group_names.size(); ++g) {
    if (d.input_group_names[g] == name) return GroupColour(d, g);
  }
  return PaletteColour(k);
}

// Shades the steps where target(t, k) > 0.5 in the colour of class k.
void DrawTargetBands(Panel* p, const TrialData& d) {
  const MatD& target = d.target;
  const double dt = d.dt_ms;
  for (int k = 0; k < target.cols(); ++k) {
    int t = 0;
    while (t < target.rows()) {
      if (!(target(t, k) > 0.5)) {
        ++t;
        continue;
      }
      const int start = t;
      while (t < target.rows() && target(t, k) > 0.5) ++t;
      const Box& b = p->box();
      p->doc()->Rect(p->X(start * dt), b.y, (t - start) * dt * p->XScale(),
                     b.height, OutputColour(d, k), "target-band", 0.16);
    }
  }
}

StackedPanel ClassificationPanel(const TrialData& d) {
  StackedPanel p;
  p.title = "Readout: class probabilities (shaded: target class)";
  p.y_label = "probability";
  p.y = {0.0, 1.0};
  p.height = 110.0;
  for (int k = 0; k < d.output.cols(); ++k) {
    p.legend.push_back({absl::StrCat("p(", OutputName(d, k), ")"),
                        Swatch::kLine, Line(OutputColour(d, k), 2.0)});
  }
  if (d.target.size() > 0) {
    p.legend.push_back(
        {"target class", Swatch::kBox, {kNeutralColour, 1.0, "", 0.3}});
  }
  p.draw = [&d](Panel* panel) {
    DrawTargetBands(panel, d);
    const std::vector<double> ts = Times(d.output.rows(), d.dt_ms);
    for (int k = 0; k < d.output.cols(); ++k) {
      panel->Series(ts, Column(d.output, k), Line(OutputColour(d, k), 2.0));
    }
  };
  return p;
}

StackedPanel RegressionPanel(const TrialData& d) {
  StackedPanel p;
  p.title = "Readout: output y(t) and target y*(t)";
  p.y_label = "output";
  p.height = 120.0;
  std::vector<double> all = Values(d.output);
  const std::vector<double> targets = Values(d.target);
  all.insert(all.end(), targets.begin(), targets.end());
  const Interval r = FiniteRange(all);
  p.y = NiceInterval(r.lo, r.hi, 4);
  const int n = std::max(d.output.cols(), d.target.cols());
  for (int k = 0; k < n; ++k) {
    p.legend.push_back(
        {OutputName(d, k), Swatch::kLine, Line(OutputColour(d, k), 2.0)});
  }
  p.legend.push_back({"y(t)", Swatch::kLine, Line(kNeutralColour, 2.0)});
  p.legend.push_back(
      {"target y*(t)", Swatch::kLine, Line(kNeutralColour, 1.5, "6 4")});
  p.draw = [&d](Panel* panel) {
    for (int k = 0; k < d.target.cols(); ++k) {
      panel->Series(Times(d.target.rows(), d.dt_ms), Column(d.target, k),
                    Line(OutputColour(d, k), 1.5, "6 4"));
    }
    for (int k = 0; k < d.output.cols(); ++k) {
      panel->Series(Times(d.output.rows(), d.dt_ms), Column(d.output, k),
                    Line(OutputColour(d, k), 2.0));
    }
  };
  return p;
}

int TrialSteps(const TrialData& d) {
  Eigen::Index t = 0;
  for (const MatD* m :
       {&d.inputs, &d.lif_spikes, &d.alif_spikes, &d.alif_thresholds, &d.output,
        &d.target, &d.learning_signals, &d.eligibility_traces}) {
    t = std::max(t, m->rows());
  }
  return static_cast<int>(t);
}

// ---------------------------------------------------------- LearningCurves

// The value of f(m) for every entry of the history.
std::vector<double> Collect(
    const std::vector<IterationMetrics>& history,
    const std::function<double(const IterationMetrics&)>& f) {
  std::vector<double> out;
  out.reserve(history.size());
  for (const IterationMetrics& m : history) out.push_back(f(m));
  return out;
}

bool AnyFinite(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(),
                     [](double x) { return std::isfinite(x); });
}

bool AnyNonZero(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(),
                     [](double x) { return std::isfinite(x) && x != 0.0; });
}

// [min(0, lo), hi] of the finite values, widened to nice ticks.
Interval FromZero(const std::vector<double>& values) {
  const Interval r = FiniteRange(values);
  return NiceInterval(std::min(0.0, r.lo), r.hi, 4);
}

// A panel of lines (xs, ys[i]) in palette colour i, labelled labels[i],
// with the y range [min(0, lo), hi]; "no data" if no value is finite.
StackedPanel CurvePanel(std::string title, std::string y_label,
                        std::vector<double> xs,
                        std::vector<std::vector<double>> ys,
                        std::vector<std::string> labels) {
  StackedPanel p;
  p.title = std::move(title);
  p.y_label = std::move(y_label);
  p.height = 150.0;
  std::vector<double> all;
  for (const auto& y : ys) all.insert(all.end(), y.begin(), y.end());
  p.y = FromZero(all);
  for (size_t i = 0; i < ys.size(); ++i) {
    p.legend.push_back({labels[i], Swatch::kLine, Line(PaletteColour(i), 2.0)});
  }
  const bool empty = !AnyFinite(all);
  p.draw = [xs = std::move(xs), ys = std::move(ys), empty](Panel* panel) {
    if (empty) panel->Message("no data");
    for (size_t i = 0; i < ys.size(); ++i) {
      panel->Series(xs, ys[i], Line(PaletteColour(i), 2.0));
    }
  };
  return p;
}

StackedPanel LossPanel(const std::vector<IterationMetrics>& h,
                       const std::vector<double>& xs) {
  std::vector<std::vector<double>> ys = {
      Collect(h, [](const IterationMetrics& m) { return m.loss; })};
  std::vector<std::string> labels = {"task loss"};
  std::vector<double> reg =
      Collect(h, [](const IterationMetrics& m) { return m.reg_loss; });
  if (AnyNonZero(reg)) {
    ys.push_back(std::move(reg));
    labels.push_back("rate reg. loss");
  }
  return CurvePanel("Loss (validation batch)", "loss", xs, std::move(ys),
                    std::move(labels));
}

StackedPanel ErrorPanel(const std::vector<IterationMetrics>& h,
                        const std::vector<double>& xs) {
  const std::vector<double> error =
      Collect(h, [](const IterationMetrics& m) { return 100.0 * m.error; });
  if (AnyFinite(error)) {
    return CurvePanel("Task error", "error (%)", xs, {error}, {"error"});
  }
  const std::vector<double> nmse =
      Collect(h, [](const IterationMetrics& m) { return m.nmse; });
  return CurvePanel("Normalised mean squared error", "NMSE", xs, {nmse},
                    {"MSE / var(target)"});
}

// Names of the populations in order of first appearance.
std::vector<std::string> PopulationNames(
    const std::vector<IterationMetrics>& h) {
  std::vector<std::string> names;
  for (const IterationMetrics& m : h) {
    for (const PopulationRates& p : m.populations) {
      if (std::find(names.begin(), names.end(), p.name) == names.end()) {
        names.push_back(p.name);
      }
    }
  }
  return names;
}

// Mean, min and max rate of population `name` per entry (NaN if absent).
struct RateSeries {
  std::vector<double> mean, min, max;
};

RateSeries PopulationSeries(const std::vector<IterationMetrics>& h,
                            const std::string& name) {
  RateSeries s;
  for (const IterationMetrics& m : h) {
    double mean = kNaN, lo = kNaN, hi = kNaN;
    for (const PopulationRates& p : m.populations) {
      if (p.name != name) continue;
      mean = p.mean_hz;
      lo = p.min_hz;
      hi = p.max_hz;
    }
    s.mean.push_back(mean);
    s.min.push_back(lo);
    s.max.push_back(hi);
  }
  return s;
}

StackedPanel RatePanel(const std::vector<IterationMetrics>& h,
                       const std::vector<double>& xs) {
  const std::vector<double> mean =
      Collect(h, [](const IterationMetrics& m) { return m.rate_hz; });
  const std::vector<std::string> names = PopulationNames(h);
  std::vector<RateSeries> pops;
  std::vector<double> all = mean;
  for (const std::string& name : names) {
    pops.push_back(PopulationSeries(h, name));
    for (const auto* v :
         {&pops.back().mean, &pops.back().min, &pops.back().max}) {
      all.insert(all.end(), v->begin(), v->end());
    }
  }
  StackedPanel p;
  p.title = "Firing rate";
  p.y_label = "rate (Hz)";
  p.height = 150.0;
  p.y = FromZero(all);
  p.legend.push_back(
      {"mean, all neurons", Swatch::kLine, Line(kLifColour, 2.0)});
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string colour = PaletteColour(i);
    p.legend.push_back({names[i] + " mean", Swatch::kLine, Line(colour, 1.5)});
    p.legend.push_back(
        {names[i] + " min-max", Swatch::kBox, {colour, 1.0, "", 0.25}});
  }
  const bool empty = !AnyFinite(all);
  p.draw = [xs, mean, pops = std::move(pops), empty](Panel* panel) {
    if (empty) panel->Message("no data");
    for (size_t i = 0; i < pops.size(); ++i) {
      panel->Band(xs, pops[i].min, pops[i].max, PaletteColour(i), 0.2);
    }
    for (size_t i = 0; i < pops.size(); ++i) {
      panel->Series(xs, pops[i].mean, Line(PaletteColour(i), 1.5));
    }
    panel->Series(xs, mean, Line(kLifColour, 2.0));
  };
  return p;
}

}  // namespace

std::string TrialFigure(const TrialData& d) {
  const int steps = TrialSteps(d);
  if (steps == 0) return NoDataFigure(d.title);
  // The panels' draw functions refer to `data`, which outlives StackPanels.
  TrialData data = d;
  if (!(data.dt_ms > 0.0)) data.dt_ms = 1.0;
  std::vector<StackedPanel> panels;
  if (data.inputs.size() > 0) panels.push_back(InputPanel(data));
  if (data.lif_spikes.size() > 0) {
    panels.push_back(NeuronRaster(data.lif_spikes, data.dt_ms, "LIF",
                                  kLifColour, "spike-lif"));
  }
  if (data.alif_spikes.size() > 0) {
    panels.push_back(NeuronRaster(data.alif_spikes, data.dt_ms, "ALIF",
                                  kAlifColour, "spike-alif"));
  }
  if (data.alif_thresholds.size() > 0) panels.push_back(ThresholdPanel(data));
  if (data.output.size() > 0 || data.target.size() > 0) {
    panels.push_back(data.classification ? ClassificationPanel(data)
                                         : RegressionPanel(data));
  }
  if (data.learning_signals.size() > 0) {
    panels.push_back(TracePanel(data.learning_signals, data.dt_ms,
                                "Learning signals L_j(t)", "L_j(t)", "neuron"));
  }
  if (data.eligibility_traces.size() > 0) {
    panels.push_back(TracePanel(data.eligibility_traces, data.dt_ms,
                                "Filtered eligibility traces \u0113_ji(t)",
                                "\u0113_ji(t)", "trace"));
  }
  return StackPanels(data.title, {{0.0, steps * data.dt_ms}, "time (ms)", 0.0},
                     panels);
}

std::string LearningCurves(const std::vector<IterationMetrics>& history,
                           const std::string& title) {
  if (history.empty()) return NoDataFigure(title);
  const std::vector<double> xs =
      Collect(history, [](const IterationMetrics& m) {
        return static_cast<double>(m.iteration);
      });
  const Interval r = FiniteRange(xs);
  const SharedX x{NiceInterval(r.lo, r.hi, 8), "training iteration", 1.0};
  return StackPanels(title, x,
                     {LossPanel(history, xs), ErrorPanel(history, xs),
                      RatePanel(history, xs)});
}

}  // namespace eprop::plot
