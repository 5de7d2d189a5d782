#include "core/plot/figures.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/plot/svg.h"
#include "core/train/metrics.h"
#include "core/util/eigen_types.h"
#include "gtest/gtest.h"

namespace eprop::plot {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ------------------------------------------------------ well-formedness

// A minimal XML checker for the subset the SVG writer emits: an optional
// <?xml ...?> declaration, then one root element; elements balanced and
// properly nested; attributes name="value" (double quotes), unique per
// element; no raw '<' or unescaped '&' in text or attribute values.
// Returns "" if the document passes, else the first problem found.
class XmlChecker {
 public:
  explicit XmlChecker(const std::string& s) : s_(s) {}

  std::string Check() {
    if (s_.compare(0, 5, "<?xml") == 0) {
      const size_t end = s_.find("?>");
      if (end == std::string::npos) return "unterminated declaration";
      pos_ = end + 2;
    }
    std::vector<std::string> stack;
    int roots = 0;
    while (pos_ < s_.size()) {
      if (s_[pos_] != '<') {
        const std::string problem = Text(stack.empty());
        if (!problem.empty()) return problem;
        continue;
      }
      if (s_.compare(pos_, 2, "</") == 0) {
        const std::string problem = CloseTag(&stack);
        if (!problem.empty()) return problem;
        continue;
      }
      if (stack.empty()) ++roots;
      const std::string problem = OpenTag(&stack);
      if (!problem.empty()) return problem;
    }
    if (!stack.empty()) return "unclosed <" + stack.back() + ">";
    if (roots != 1) return "expected one root element";
    return "";
  }

 private:
  static bool NameChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-' || c == ':' || c == '.';
  }

  // An '&' at i must start &amp; &lt; &gt; &quot; &apos; or &#digits;.
  bool EntityOk(size_t i) const {
    for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
      if (s_.compare(i, std::string(e).size(), e) == 0) return true;
    }
    size_t j = i + 1;
    if (j >= s_.size() || s_[j] != '#') return false;
    ++j;
    const size_t digits = j;
    while (j < s_.size() && std::isdigit(static_cast<unsigned char>(s_[j]))) {
      ++j;
    }
    return j > digits && j < s_.size() && s_[j] == ';';
  }

  std::string Text(bool outside_root) {
    while (pos_ < s_.size() && s_[pos_] != '<') {
      if (s_[pos_] == '&' && !EntityOk(pos_)) return At("unescaped '&'");
      if (outside_root && !std::isspace(static_cast<unsigned char>(s_[pos_]))) {
        return At("text outside the root element");
      }
      ++pos_;
    }
    return "";
  }

  std::string Name(std::string* name) {
    const size_t start = pos_;
    while (pos_ < s_.size() && NameChar(s_[pos_])) ++pos_;
    *name = s_.substr(start, pos_ - start);
    return name->empty() ? At("expected a name") : "";
  }

  void SkipSpace() {
    while (pos_ < s_.size() &&
           std::isspace(static_cast<unsigned char>(s_[pos_]))) {
      ++pos_;
    }
  }

  std::string CloseTag(std::vector<std::string>* stack) {
    pos_ += 2;
    std::string name;
    if (std::string p = Name(&name); !p.empty()) return p;
    SkipSpace();
    if (pos_ >= s_.size() || s_[pos_] != '>') return At("bad closing tag");
    ++pos_;
    if (stack->empty() || stack->back() != name) {
      return At("mismatched </" + name + ">");
    }
    stack->pop_back();
    return "";
  }

  std::string Attribute(std::set<std::string>* seen) {
    std::string name;
    if (std::string p = Name(&name); !p.empty()) return p;
    if (!seen->insert(name).second) return At("duplicate attribute " + name);
    if (pos_ + 1 >= s_.size() || s_[pos_] != '=' || s_[pos_ + 1] != '"') {
      return At("attribute " + name + " not quoted");
    }
    pos_ += 2;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      if (s_[pos_] == '<') return At("'<' in attribute value");
      if (s_[pos_] == '&' && !EntityOk(pos_)) return At("'&' in attribute");
      ++pos_;
    }
    if (pos_ >= s_.size()) return At("unterminated attribute");
    ++pos_;
    return "";
  }

  std::string OpenTag(std::vector<std::string>* stack) {
    ++pos_;
    std::string name;
    if (std::string p = Name(&name); !p.empty()) return p;
    std::set<std::string> seen;
    while (true) {
      const size_t before = pos_;
      SkipSpace();
      if (pos_ >= s_.size()) return At("unterminated tag");
      if (s_.compare(pos_, 2, "/>") == 0) {
        pos_ += 2;
        return "";
      }
      if (s_[pos_] == '>') {
        ++pos_;
        stack->push_back(name);
        return "";
      }
      if (pos_ == before) return At("attributes not separated");
      if (std::string p = Attribute(&seen); !p.empty()) return p;
    }
  }

  std::string At(const std::string& what) const {
    return what + " at offset " + std::to_string(pos_) + ": " +
           s_.substr(pos_ > 30 ? pos_ - 30 : 0, 80);
  }

  const std::string& s_;
  size_t pos_ = 0;
};

std::string XmlProblems(const std::string& svg) {
  return XmlChecker(svg).Check();
}

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t i = haystack.find(needle); i != std::string::npos;
       i = haystack.find(needle, i + needle.size())) {
    ++n;
  }
  return n;
}

// Content of the <text> element whose start tag begins at `open`, and the
// start tag itself.
std::string TextContent(const std::string& svg, size_t open, std::string* tag) {
  const size_t tag_end = svg.find('>', open);
  *tag = svg.substr(open, tag_end - open + 1);
  const size_t close = svg.find("</text>", tag_end);
  return svg.substr(tag_end + 1, close - tag_end - 1);
}

// Contents of the <text> elements with class `css_class`, in order.
std::vector<std::string> Texts(const std::string& svg,
                               const std::string& css_class) {
  const std::string attribute = " class=\"" + css_class + "\"";
  std::vector<std::string> out;
  for (size_t i = svg.find("<text "); i != std::string::npos;
       i = svg.find("<text ", i + 1)) {
    std::string tag;
    const std::string content = TextContent(svg, i, &tag);
    if (tag.find(attribute) != std::string::npos) out.push_back(content);
  }
  return out;
}

// Label texts of the legend entries.
std::vector<std::string> LegendLabels(const std::string& svg) {
  std::vector<std::string> out;
  const std::string entry = "<g class=\"legend-entry\">";
  for (size_t i = svg.find(entry); i != std::string::npos;
       i = svg.find(entry, i + 1)) {
    std::string tag;
    out.push_back(TextContent(svg, svg.find("<text ", i), &tag));
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

int SpikeCount(const MatD& m, int cols) {
  int n = 0;
  for (int t = 0; t < m.rows(); ++t) {
    for (int j = 0; j < cols; ++j) n += m(t, j) > 0.5;
  }
  return n;
}

// ----------------------------------------------------- synthetic data

// A fixed pseudo-random sequence (64-bit LCG), uniform in [0, 1).
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : state_(seed) {}
  double Uniform() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state_ >> 11) * 0x1.0p-53;
  }

 private:
  uint64_t state_;
};

MatD PoissonSpikes(int steps, int n, double hz, Lcg* rng) {
  MatD z = MatD::Zero(steps, n);
  for (int t = 0; t < steps; ++t) {
    for (int j = 0; j < n; ++j) z(t, j) = rng->Uniform() < hz / 1000.0;
  }
  return z;
}

// An evidence-accumulation-like trial: 4 groups of 5 inputs (left and right
// cues, recall, background), 30 LIF and 50 ALIF neurons, two classes.
TrialData SyntheticTrial() {
  constexpr int kSteps = 600;
  Lcg rng(7);
  TrialData d;
  d.title = "Synthetic trial (evidence accumulation, target: left)";
  d.input_group_names = {"left", "right", "recall", "background"};
  d.inputs = MatD::Zero(kSteps, 20);
  for (int j = 0; j < 20; ++j) d.input_group.push_back(j / 5);
  for (int t = 0; t < kSteps; ++t) {
    const int cue = t < 400 ? (t / 100) % 2 : -1;  // left, right, left, right
    const bool left_cue = t % 100 < 60 && (cue == 0 || t / 100 == 2);
    const bool right_cue = t % 100 < 60 && t / 100 == 1;
    for (int j = 0; j < 20; ++j) {
      const int g = j / 5;
      double hz = g == 3 ? 10.0 : 0.0;
      if ((g == 0 && left_cue) || (g == 1 && right_cue)) hz = 40.0;
      if (g == 2 && t >= 500) hz = 40.0;
      d.inputs(t, j) = rng.Uniform() < hz / 1000.0;
    }
  }
  d.lif_spikes = PoissonSpikes(kSteps, 30, 15.0, &rng);
  d.alif_spikes = PoissonSpikes(kSteps, 50, 12.0, &rng);
  d.v_th = 0.62;
  d.alif_thresholds = MatD::Zero(kSteps, 3);
  for (int j = 0; j < 3; ++j) {
    double a = 0.0;
    for (int t = 0; t < kSteps; ++t) {
      a = std::exp(-1.0 / 500.0) * a + d.alif_spikes(t, j);
      d.alif_thresholds(t, j) = d.v_th + 0.07 * a;
    }
  }
  d.output_names = {"left", "right"};
  d.output = MatD::Zero(kSteps, 2);
  d.target = MatD::Zero(kSteps, 2);
  for (int t = 0; t < kSteps; ++t) {
    const double p = 1.0 / (1.0 + std::exp(-(t - 350.0) / 60.0));
    d.output(t, 0) = 0.5 + 0.4 * p;
    d.output(t, 1) = 1.0 - d.output(t, 0);
    if (t >= 500) d.target(t, 0) = 1.0;
  }
  d.learning_signals = MatD::Zero(kSteps, 3);
  d.eligibility_traces = MatD::Zero(kSteps, 3);
  for (int j = 0; j < 3; ++j) {
    double e = 0.0;
    for (int t = 0; t < kSteps; ++t) {
      if (t >= 500) {
        d.learning_signals(t, j) = (j + 1) * 0.1 * (d.output(t, 0) - 1.0);
      }
      e = 0.95 * e + 0.05 * d.lif_spikes(t, j);
      d.eligibility_traces(t, j) = e;
    }
  }
  return d;
}

std::vector<IterationMetrics> SyntheticHistory() {
  std::vector<IterationMetrics> h;
  for (int i = 0; i <= 20; ++i) {
    IterationMetrics m;
    m.iteration = 25 * i;
    m.loss = 0.7 * std::exp(-i / 6.0) + 0.05;
    m.reg_loss = 0.02 * std::exp(-i / 10.0);
    m.error = 0.5 * std::exp(-i / 5.0);
    m.nmse = kNaN;
    m.rate_hz = 20.0 - 0.4 * i;
    m.populations = {{"LIF", 22.0 - 0.5 * i, 1.0, 45.0 - i},
                     {"ALIF", 18.0 - 0.3 * i, 0.5, 38.0 - 0.5 * i}};
    h.push_back(m);
  }
  return h;
}

// --------------------------------------------------------------- svg.h

TEST(SvgTest, XmlEscapeEscapesAllSpecialCharacters) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(XmlEscape("plain"), "plain");
}

TEST(SvgTest, FormatNumberIsShortAndNeverNegativeZero) {
  EXPECT_EQ(FormatNumber(1.50, 2), "1.5");
  EXPECT_EQ(FormatNumber(2.0, 2), "2");
  EXPECT_EQ(FormatNumber(-0.001, 2), "0");
  EXPECT_EQ(FormatNumber(-12.345, 1), "-12.3");
  EXPECT_EQ(FormatNumber(kNaN, 2), "0");
}

TEST(SvgTest, NiceTicksAreRoundNumbers) {
  Ticks t = NiceTicks(0.0, 10.0, 6);
  EXPECT_EQ(t.values, (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(t.decimals, 0);
  t = NiceTicks(0.0, 1.0, 5);
  ASSERT_EQ(t.values.size(), 6u);
  EXPECT_DOUBLE_EQ(t.step, 0.2);
  EXPECT_EQ(t.decimals, 1);
  EXPECT_EQ(FormatNumber(t.values[3], t.decimals), "0.6");
  // Integer axes: at least step 1.
  t = NiceTicks(-0.5, 2.5, 10, 1.0);
  EXPECT_EQ(t.values, (std::vector<double>{0, 1, 2}));
  // Degenerate and non-finite ranges still give ticks.
  EXPECT_FALSE(NiceTicks(3.0, 3.0).values.empty());
  EXPECT_FALSE(NiceTicks(kNaN, 1.0).values.empty());
}

TEST(SvgTest, NiceIntervalWidensToTicks) {
  Interval r = NiceInterval(0.13, 0.87, 5);
  EXPECT_DOUBLE_EQ(r.lo, 0.0);
  EXPECT_NEAR(r.hi, 1.0, 1e-12);
  r = NiceInterval(5.0, 5.0);
  EXPECT_LT(r.lo, 5.0);
  EXPECT_GT(r.hi, 5.0);
  r = FiniteRange({kNaN, 3.0, -1.0, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(r.lo, -1.0);
  EXPECT_EQ(r.hi, 3.0);
}

TEST(SvgTest, DocumentIsWellFormed) {
  SvgDocument doc(200, 100);
  doc.BeginGroup("g&roup", "#123456");
  doc.Rect(1, 2, 3, 4, "", "r");
  doc.Circle(5, 5, 2, "red");
  doc.EndGroup();
  doc.Line(0, 0, 10, 10, {"#000", 1.0, "2 2", 0.5});
  doc.Polyline({{0, 0}, {1, 1}, {2, 0}}, {});
  doc.Text(10, 10, "a < b & \"c\"", {});
  doc.BeginGroup("left-open");  // closed by ToString()
  const std::string svg = doc.ToString();
  EXPECT_EQ(XmlProblems(svg), "") << svg;
  EXPECT_NE(svg.find("viewBox=\"0 0 200 100\""), std::string::npos);
  EXPECT_NE(svg.find(">a &lt; b &amp; &quot;c&quot;</text>"),
            std::string::npos);
  EXPECT_NE(svg.find("class=\"g&amp;roup\""), std::string::npos);
}

TEST(SvgTest, CheckerRejectsMalformedXml) {
  EXPECT_NE(XmlProblems("<svg><g></svg></g>"), "");
  EXPECT_NE(XmlProblems("<svg><text>a & b</text></svg>"), "");
  EXPECT_NE(XmlProblems("<svg><text>a < b</text></svg>"), "");
  EXPECT_NE(XmlProblems("<svg width=100></svg>"), "");
  EXPECT_NE(XmlProblems("<svg>"), "");
  EXPECT_EQ(XmlProblems("<svg a=\"&amp;\"><g/>x &lt; y</svg>"), "");
}

TEST(SvgTest, SeriesSplitsAtNaN) {
  SvgDocument doc(100, 100);
  Panel panel(&doc, {10, 10, 80, 80}, {0, 4}, {0, 1});
  panel.Series({0, 1, 2, 3, 4}, {0.1, 0.2, kNaN, 0.5, 0.6}, {});
  panel.Series({0, 1, 2}, {kNaN, 0.3, kNaN}, {});
  const std::string svg = doc.ToString();
  EXPECT_EQ(Count(svg, "<polyline"), 2);
  EXPECT_EQ(Count(svg, "class=\"point\""), 1);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

// -------------------------------------------------------- TrialFigure

TEST(TrialFigureTest, WellFormedWithAllPanels) {
  const TrialData d = SyntheticTrial();
  const std::string svg = TrialFigure(d);
  ASSERT_EQ(XmlProblems(svg), "");
  const std::vector<std::string> titles = Texts(svg, "panel-title");
  EXPECT_EQ(titles,
            (std::vector<std::string>{
                "(a) Input spikes (20 inputs)", "(b) LIF neurons: spikes",
                "(c) ALIF neurons: spikes (first 40 of 50)",
                "(d) Adaptive thresholds of ALIF neurons",
                "(e) Readout: class probabilities (shaded: target "
                "class)",
                "(f) Learning signals L_j(t)",
                "(g) Filtered eligibility traces \u0113_ji(t)"}));
  const std::vector<std::string> labels = Texts(svg, "axis-label");
  for (const char* label : {"time (ms)", "input", "neuron", "threshold A_j(t)",
                            "probability", "L_j(t)"}) {
    EXPECT_TRUE(Contains(labels, label)) << label;
  }
  EXPECT_EQ(std::count(labels.begin(), labels.end(), "time (ms)"),
            1);  // only below the bottom panel
  EXPECT_EQ(Texts(svg, "figure-title"), (std::vector<std::string>{d.title}));
  EXPECT_FALSE(Texts(svg, "tick-label").empty());
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(TrialFigureTest, OneMarkPerDrawnSpike) {
  const TrialData d = SyntheticTrial();
  const std::string svg = TrialFigure(d);
  EXPECT_EQ(Count(svg, "class=\"spike-in\""), SpikeCount(d.inputs, 20));
  EXPECT_EQ(Count(svg, "class=\"spike-lif\""), SpikeCount(d.lif_spikes, 30));
  // At most kMaxRasterNeurons ALIF neurons are drawn: the first 40.
  EXPECT_EQ(Count(svg, "class=\"spike-alif\""),
            SpikeCount(d.alif_spikes, kMaxRasterNeurons));
  EXPECT_GT(SpikeCount(d.alif_spikes, 50),
            SpikeCount(d.alif_spikes, kMaxRasterNeurons));
}

TEST(TrialFigureTest, OnePolylinePerLineAndLegendEntries) {
  const TrialData d = SyntheticTrial();
  const std::string svg = TrialFigure(d);
  // 3 thresholds + 2 class probabilities + 3 learning signals + 3 traces.
  EXPECT_EQ(Count(svg, "<polyline"), 11);
  EXPECT_EQ(Count(svg, "class=\"series\""), 11);
  EXPECT_EQ(Count(svg, "class=\"threshold-baseline\""), 1);
  EXPECT_EQ(Count(svg, "class=\"target-band\""), 1);
  const std::vector<std::string> legend = LegendLabels(svg);
  for (const char* entry :
       {"left", "right", "recall", "background", "ALIF neuron 1",
        "ALIF neuron 3", "baseline v_th", "p(left)", "p(right)", "target class",
        "neuron 2", "trace 3"}) {
    EXPECT_TRUE(Contains(legend, entry)) << entry;
  }
  EXPECT_EQ(Count(svg, "class=\"legend-entry\""),
            static_cast<int>(legend.size()));
}

TEST(TrialFigureTest, SkipsEmptyPanelsAndLettersTheRest) {
  TrialData d = SyntheticTrial();
  d.alif_spikes.resize(0, 0);
  d.alif_thresholds.resize(0, 0);
  d.learning_signals.resize(0, 0);
  d.eligibility_traces.resize(0, 0);
  d.input_group.clear();  // ungrouped: one colour, no group legend
  const std::string svg = TrialFigure(d);
  ASSERT_EQ(XmlProblems(svg), "");
  EXPECT_EQ(Texts(svg, "panel-title"),
            (std::vector<std::string>{
                "(a) Input spikes (20 inputs)", "(b) LIF neurons: spikes",
                "(c) Readout: class probabilities (shaded: target class)"}));
  EXPECT_EQ(Count(svg, "class=\"spike-alif\""), 0);
  EXPECT_FALSE(Contains(LegendLabels(svg), "recall"));
  EXPECT_EQ(Count(svg, "<polyline"), 2);
}

TEST(TrialFigureTest, RegressionDrawsOutputAndTargetPerOutput) {
  TrialData d;
  d.title = "Pattern generation";
  d.classification = false;
  d.output = MatD::Zero(200, 3);
  d.target = MatD::Zero(200, 3);
  for (int t = 0; t < 200; ++t) {
    for (int k = 0; k < 3; ++k) {
      d.target(t, k) = std::sin(0.05 * t * (k + 1));
      d.output(t, k) = 0.8 * d.target(t, k);
    }
  }
  d.lif_spikes = MatD::Zero(200, 4);
  d.lif_spikes(10, 2) = 1.0;
  const std::string svg = TrialFigure(d);
  ASSERT_EQ(XmlProblems(svg), "");
  EXPECT_EQ(Count(svg, "<polyline"), 6);
  EXPECT_EQ(Count(svg, "class=\"spike-lif\""), 1);
  const std::vector<std::string> legend = LegendLabels(svg);
  for (const char* entry : {"output 1", "output 3", "y(t)", "target y*(t)"}) {
    EXPECT_TRUE(Contains(legend, entry)) << entry;
  }
  EXPECT_TRUE(Contains(Texts(svg, "axis-label"), "output"));
}

TEST(TrialFigureTest, EscapesText) {
  TrialData d = SyntheticTrial();
  d.title = "a <&> b";
  d.output_names = {"<left>", "right & co"};
  const std::string svg = TrialFigure(d);
  ASSERT_EQ(XmlProblems(svg), "");
  EXPECT_NE(svg.find(">a &lt;&amp;&gt; b</text>"), std::string::npos);
  EXPECT_TRUE(Contains(LegendLabels(svg), "p(&lt;left&gt;)"));
  EXPECT_TRUE(Contains(LegendLabels(svg), "p(right &amp; co)"));
}

TEST(TrialFigureTest, EmptyTrialSaysNoData) {
  TrialData d;
  d.title = "empty";
  const std::string svg = TrialFigure(d);
  ASSERT_EQ(XmlProblems(svg), "");
  EXPECT_EQ(Texts(svg, "message"), (std::vector<std::string>{"no data"}));
}

TEST(TrialFigureTest, IgnoresInconsistentGroups) {
  TrialData d = SyntheticTrial();
  d.input_group = {0, 1};  // wrong size: ungrouped
  d.dt_ms = 0.0;           // invalid: 1 ms
  const std::string svg = TrialFigure(d);
  ASSERT_EQ(XmlProblems(svg), "");
  EXPECT_EQ(Count(svg, "class=\"spike-in\""), SpikeCount(d.inputs, 20));
}

TEST(TrialFigureTest, LegendListsTheGroupsPresent) {
  TrialData d = SyntheticTrial();
  for (int j = 0; j < 20; ++j) d.input_group[j] = j < 10 ? -1 : 5;
  const std::string svg = TrialFigure(d);
  ASSERT_EQ(XmlProblems(svg), "");
  const std::vector<std::string> legend = LegendLabels(svg);
  EXPECT_TRUE(Contains(legend, "group 6"));  // no name for group 5
  EXPECT_FALSE(Contains(legend, "left"));    // group 0 is absent
  EXPECT_EQ(Count(svg, "class=\"spike-in\""), SpikeCount(d.inputs, 20));
}

// ----------------------------------------------------- LearningCurves

TEST(LearningCurvesTest, PanelsLinesAndLegend) {
  const std::string svg = LearningCurves(SyntheticHistory(), "Run 1");
  ASSERT_EQ(XmlProblems(svg), "");
  EXPECT_EQ(Texts(svg, "panel-title"),
            (std::vector<std::string>{"(a) Loss (validation batch)",
                                      "(b) Task error", "(c) Firing rate"}));
  const std::vector<std::string> labels = Texts(svg, "axis-label");
  for (const char* label :
       {"training iteration", "loss", "error (%)", "rate (Hz)"}) {
    EXPECT_TRUE(Contains(labels, label)) << label;
  }
  // loss, reg loss, error, overall rate, LIF and ALIF means.
  EXPECT_EQ(Count(svg, "<polyline"), 6);
  EXPECT_EQ(Count(svg, "class=\"band\""), 2);
  const std::vector<std::string> legend = LegendLabels(svg);
  for (const char* entry : {"task loss", "rate reg. loss", "error",
                            "mean, all neurons", "LIF mean", "ALIF min-max"}) {
    EXPECT_TRUE(Contains(legend, entry)) << entry;
  }
}

TEST(LearningCurvesTest, SkipsNaNAndZeroRegLoss) {
  std::vector<IterationMetrics> h = SyntheticHistory();
  for (IterationMetrics& m : h) m.reg_loss = 0.0;
  h[5].loss = kNaN;
  h[9].rate_hz = std::numeric_limits<double>::infinity();
  const std::string svg = LearningCurves(h, "gaps");
  ASSERT_EQ(XmlProblems(svg), "");
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  EXPECT_FALSE(Contains(LegendLabels(svg), "rate reg. loss"));
  // loss: 2 runs; error: 1; mean rate: 2 runs; LIF and ALIF means: 1 each.
  EXPECT_EQ(Count(svg, "<polyline"), 7);
}

TEST(LearningCurvesTest, NormalisedMseWhenErrorIsNaN) {
  std::vector<IterationMetrics> h = SyntheticHistory();
  for (IterationMetrics& m : h) {
    m.error = kNaN;
    m.nmse = 0.1 + m.loss;
    m.populations.clear();
  }
  const std::string svg = LearningCurves(h, "regression");
  ASSERT_EQ(XmlProblems(svg), "");
  EXPECT_TRUE(
      Contains(Texts(svg, "panel-title"), "(b) Normalised mean squared error"));
  EXPECT_TRUE(Contains(Texts(svg, "axis-label"), "NMSE"));
  EXPECT_EQ(Count(svg, "class=\"band\""), 0);
}

TEST(LearningCurvesTest, SingleEntryIsDrawnAsPoints) {
  const std::vector<IterationMetrics> h = {SyntheticHistory()[3]};
  const std::string svg = LearningCurves(h, "one");
  ASSERT_EQ(XmlProblems(svg), "");
  EXPECT_EQ(Count(svg, "<polyline"), 0);
  EXPECT_EQ(Count(svg, "class=\"point\""), 6);
}

TEST(LearningCurvesTest, EmptyHistorySaysNoData) {
  const std::string svg = LearningCurves({}, "nothing <yet>");
  ASSERT_EQ(XmlProblems(svg), "");
  EXPECT_EQ(Texts(svg, "message"), (std::vector<std::string>{"no data"}));
  EXPECT_NE(svg.find("nothing &lt;yet&gt;"), std::string::npos);
}

// ------------------------------------------- real parser, example files

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

TEST(FiguresFileTest, DebianPythonParsesTheFigures) {
  constexpr char kPython[] = "/usr/bin/python3";
  if (access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " not found";
  const std::vector<std::string> documents = {
      TrialFigure(SyntheticTrial()),
      LearningCurves(SyntheticHistory(), "Learning <curves> & co"),
      LearningCurves({}, "empty"), TrialFigure({})};
  for (size_t i = 0; i < documents.size(); ++i) {
    const std::string path = ::testing::TempDir() + "figures_test_" +
                             std::to_string(getpid()) + "_" +
                             std::to_string(i) + ".svg";
    WriteFile(path, documents[i]);
    const std::string command = std::string(kPython) +
                                " -c \"import sys, xml.dom.minidom; "
                                "xml.dom.minidom.parse(sys.argv[1])\""
                                " '" +
                                path + "'";
    const int status = std::system(command.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << path;
    std::remove(path.c_str());
  }
}

TEST(FiguresFileTest, WritesExampleFigures) {
  WriteFile("/tmp/trial.svg", TrialFigure(SyntheticTrial()));
  WriteFile("/tmp/curves.svg",
            LearningCurves(SyntheticHistory(), "Learning curves (synthetic)"));
}

}  // namespace
}  // namespace eprop::plot
