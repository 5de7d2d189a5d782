#include "core/plot/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace eprop::plot {
namespace {

constexpr char kAxisColour[] = "#444444";
constexpr char kGridColour[] = "#e8e8e8";
constexpr double kTickLength = 4.0;
constexpr double kTickFont = 11.0;
constexpr double kLabelFont = 12.0;
// Approximate advance of one character of the tick font, in pixels.
constexpr double kTickCharWidth = 6.6;

std::string Num(double v) { return FormatNumber(v, 2); }

// stroke, stroke-width and optional dash/opacity attributes.
std::string StrokeAttributes(const Stroke& s) {
  std::string out = absl::StrCat(" stroke=\"", XmlEscape(s.colour),
                                 "\" stroke-width=\"", Num(s.width), "\"");
  if (!s.dash.empty()) {
    absl::StrAppend(&out, " stroke-dasharray=\"", XmlEscape(s.dash), "\"");
  }
  if (s.opacity < 1.0) {
    absl::StrAppend(&out, " stroke-opacity=\"", Num(s.opacity), "\"");
  }
  return out;
}

std::string ClassAttribute(std::string_view css_class) {
  if (css_class.empty()) return "";
  return absl::StrCat(" class=\"", XmlEscape(css_class), "\"");
}

std::string PointsAttribute(const std::vector<Point>& points) {
  std::string out;
  for (const Point& p : points) {
    if (!out.empty()) out += ' ';
    absl::StrAppend(&out, Num(p.x), ",", Num(p.y));
  }
  return out;
}

const char* AnchorName(Anchor a) {
  switch (a) {
    case Anchor::kStart:
      return "start";
    case Anchor::kMiddle:
      return "middle";
    case Anchor::kEnd:
      return "end";
  }
  return "start";
}

// 1, 2, 5 or 10 times a power of ten, near `raw` (> 0).
double NiceStep(double raw) {
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / power;
  if (f < 1.5) return power;
  if (f < 3.0) return 2.0 * power;
  if (f < 7.0) return 5.0 * power;
  return 10.0 * power;
}

// The smallest nice step >= raw (> 0).
double NiceStepAtLeast(double raw) {
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * power >= raw * (1.0 - 1e-12)) return m * power;
  }
  return 10.0 * power;
}

bool Finite(double v) { return std::isfinite(v); }

// Ticks for an axis with room for about `room` of them: at least 3 when the
// step allows it, whatever the rounding of the nice step.
Ticks AxisTicks(Interval r, double room, double min_step) {
  int target = std::max(2, static_cast<int>(room));
  Ticks ticks = NiceTicks(r.lo, r.hi, target, min_step);
  while (ticks.values.size() < 3 && target < 12) {
    ticks = NiceTicks(r.lo, r.hi, ++target, min_step);
  }
  return ticks;
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatNumber(double v, int decimals) {
  if (!Finite(v)) return "0";
  decimals = std::clamp(decimals, 0, 12);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string PaletteColour(int i) {
  // Okabe-Ito colours, reordered for contrast between neighbours.
  static const char* const kPalette[] = {"#0072b2", "#d55e00", "#009e73",
                                         "#cc79a7", "#e69f00", "#56b4e9",
                                         "#7f3c8d", "#8c6d31"};
  constexpr int kSize = sizeof(kPalette) / sizeof(kPalette[0]);
  return kPalette[((i % kSize) + kSize) % kSize];
}

// ------------------------------------------------------------ SvgDocument

SvgDocument::SvgDocument(double width, double height)
    : width_(width), height_(height) {}

void SvgDocument::Text(double x, double y, std::string_view text,
                       const TextStyle& style) {
  absl::StrAppend(&body_, "<text x=\"", Num(x), "\" y=\"", Num(y),
                  "\" font-size=\"", Num(style.size), "\" fill=\"",
                  XmlEscape(style.colour), "\"");
  if (style.anchor != Anchor::kStart) {
    absl::StrAppend(&body_, " text-anchor=\"", AnchorName(style.anchor), "\"");
  }
  if (style.bold) body_ += " font-weight=\"bold\"";
  if (style.rotate != 0.0) {
    absl::StrAppend(&body_, " transform=\"rotate(", Num(style.rotate), " ",
                    Num(x), " ", Num(y), ")\"");
  }
  absl::StrAppend(&body_, ClassAttribute(style.css_class), ">", XmlEscape(text),
                  "</text>\n");
}

void SvgDocument::Line(double x1, double y1, double x2, double y2,
                       const Stroke& stroke, std::string_view css_class) {
  absl::StrAppend(&body_, "<line x1=\"", Num(x1), "\" y1=\"", Num(y1),
                  "\" x2=\"", Num(x2), "\" y2=\"", Num(y2), "\"",
                  StrokeAttributes(stroke), ClassAttribute(css_class), "/>\n");
}

void SvgDocument::Polyline(const std::vector<Point>& points,
                           const Stroke& stroke, std::string_view css_class) {
  absl::StrAppend(&body_, "<polyline points=\"", PointsAttribute(points),
                  "\" fill=\"none\"", StrokeAttributes(stroke),
                  " stroke-linejoin=\"round\"", ClassAttribute(css_class),
                  "/>\n");
}

void SvgDocument::Polygon(const std::vector<Point>& points,
                          std::string_view fill, double opacity,
                          std::string_view css_class) {
  absl::StrAppend(&body_, "<polygon points=\"", PointsAttribute(points),
                  "\" fill=\"", XmlEscape(fill), "\" fill-opacity=\"",
                  Num(opacity), "\" stroke=\"none\"", ClassAttribute(css_class),
                  "/>\n");
}

void SvgDocument::Rect(double x, double y, double w, double h,
                       std::string_view fill, std::string_view css_class,
                       double opacity) {
  absl::StrAppend(&body_, "<rect x=\"", Num(x), "\" y=\"", Num(y),
                  "\" width=\"", Num(w), "\" height=\"", Num(h), "\"");
  if (!fill.empty()) absl::StrAppend(&body_, " fill=\"", XmlEscape(fill), "\"");
  if (opacity < 1.0) {
    absl::StrAppend(&body_, " fill-opacity=\"", Num(opacity), "\"");
  }
  absl::StrAppend(&body_, ClassAttribute(css_class), "/>\n");
}

void SvgDocument::FrameRect(double x, double y, double w, double h,
                            const Stroke& stroke) {
  absl::StrAppend(&body_, "<rect x=\"", Num(x), "\" y=\"", Num(y),
                  "\" width=\"", Num(w), "\" height=\"", Num(h),
                  "\" fill=\"none\"", StrokeAttributes(stroke), "/>\n");
}

void SvgDocument::Circle(double cx, double cy, double r, std::string_view fill,
                         std::string_view css_class) {
  absl::StrAppend(&body_, "<circle cx=\"", Num(cx), "\" cy=\"", Num(cy),
                  "\" r=\"", Num(r), "\" fill=\"", XmlEscape(fill), "\"",
                  ClassAttribute(css_class), "/>\n");
}

void SvgDocument::BeginGroup(std::string_view css_class,
                             std::string_view fill) {
  body_ += "<g";
  body_ += ClassAttribute(css_class);
  if (!fill.empty()) absl::StrAppend(&body_, " fill=\"", XmlEscape(fill), "\"");
  body_ += ">\n";
  ++open_groups_;
}

void SvgDocument::EndGroup() {
  if (open_groups_ == 0) return;
  body_ += "</g>\n";
  --open_groups_;
}

std::string SvgDocument::ToString() const {
  std::string out = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"",
      Num(width_), "\" height=\"", Num(height_), "\" viewBox=\"0 0 ",
      Num(width_), " ", Num(height_),
      "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
      "<rect x=\"0\" y=\"0\" width=\"", Num(width_), "\" height=\"",
      Num(height_), "\" fill=\"#ffffff\"/>\n", body_);
  // Close groups a caller left open, so the document stays well-formed.
  for (int i = 0; i < open_groups_; ++i) out += "</g>\n";
  out += "</svg>\n";
  return out;
}

// ------------------------------------------------------------------ Ticks

Ticks NiceTicks(double lo, double hi, int target_count, double min_step) {
  if (!Finite(lo) || !Finite(hi)) {
    lo = 0.0;
    hi = 1.0;
  }
  if (hi < lo) std::swap(lo, hi);
  const bool degenerate =
      hi - lo <= std::max(std::fabs(lo), std::fabs(hi)) * 1e-12;
  Ticks ticks;
  ticks.step = degenerate ? NiceStep(lo != 0.0 ? std::fabs(lo) : 1.0)
                          : NiceStep((hi - lo) / std::max(1, target_count - 1));
  if (min_step > 0.0) {
    ticks.step = std::max(ticks.step, NiceStepAtLeast(min_step));
  }
  ticks.decimals =
      std::max(0, -static_cast<int>(std::floor(std::log10(ticks.step) + 1e-9)));
  if (degenerate) {
    ticks.values = {lo};
    return ticks;
  }
  // Integer multiples k * step, so the values carry no accumulated error.
  const double first = std::ceil(lo / ticks.step - 1e-9);
  const double last = std::floor(hi / ticks.step + 1e-9);
  for (double k = first; k <= last && ticks.values.size() < 1000; k += 1.0) {
    ticks.values.push_back(k == 0.0 ? 0.0 : k * ticks.step);
  }
  return ticks;
}

Interval NiceInterval(double lo, double hi, int target_count) {
  if (!Finite(lo) || !Finite(hi)) return {0.0, 1.0};
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo <= std::max(std::fabs(lo), std::fabs(hi)) * 1e-12) {
    const double pad = lo != 0.0 ? std::fabs(lo) * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  const double step = NiceTicks(lo, hi, target_count).step;
  return {std::floor(lo / step + 1e-9) * step,
          std::ceil(hi / step - 1e-9) * step};
}

Interval FiniteRange(const std::vector<double>& values) {
  Interval r{std::numeric_limits<double>::infinity(),
             -std::numeric_limits<double>::infinity()};
  for (double v : values) {
    if (!Finite(v)) continue;
    r.lo = std::min(r.lo, v);
    r.hi = std::max(r.hi, v);
  }
  if (r.lo > r.hi) return {0.0, 1.0};
  return r;
}

// ------------------------------------------------------------------ Panel

Panel::Panel(SvgDocument* doc, Box box, Interval x, Interval y)
    : doc_(doc), box_(box), x_(x), y_(y) {
  if (!(x_.hi > x_.lo)) x_.hi = x_.lo + 1.0;
  if (!(y_.hi > y_.lo)) y_.hi = y_.lo + 1.0;
}

double Panel::X(double x) const { return box_.x + (x - x_.lo) * XScale(); }

double Panel::Y(double y) const {
  return box_.y + box_.height - (y - y_.lo) * YScale();
}

double Panel::XScale() const { return box_.width / (x_.hi - x_.lo); }

double Panel::YScale() const { return box_.height / (y_.hi - y_.lo); }

void Panel::Title(std::string_view text) {
  TextStyle style;
  style.size = 13.0;
  style.bold = true;
  style.css_class = "panel-title";
  doc_->Text(box_.x, box_.y - 9.0, text, style);
}

void Panel::XAxis(std::string_view label, bool tick_labels, double min_step) {
  doc_->FrameRect(box_.x, box_.y, box_.width, box_.height,
                  {kAxisColour, 1.0, "", 1.0});
  const double bottom = box_.y + box_.height;
  const Ticks ticks = AxisTicks(x_, box_.width / 80.0, min_step);
  TextStyle style;
  style.size = kTickFont;
  style.anchor = Anchor::kMiddle;
  style.css_class = "tick-label";
  for (double v : ticks.values) {
    doc_->Line(X(v), bottom, X(v), bottom + kTickLength,
               {kAxisColour, 1.0, "", 1.0}, "tick");
    if (tick_labels) {
      doc_->Text(X(v), bottom + 17.0, FormatNumber(v, ticks.decimals), style);
    }
  }
  if (label.empty()) return;
  TextStyle label_style;
  label_style.size = kLabelFont;
  label_style.anchor = Anchor::kMiddle;
  label_style.css_class = "axis-label";
  doc_->Text(box_.x + box_.width / 2.0, bottom + (tick_labels ? 36.0 : 18.0),
             label, label_style);
}

void Panel::YAxis(std::string_view label, double min_step) {
  const Ticks ticks = AxisTicks(y_, box_.height / 28.0, min_step);
  TextStyle style;
  style.size = kTickFont;
  style.anchor = Anchor::kEnd;
  style.css_class = "tick-label";
  size_t widest = 1;
  for (double v : ticks.values) {
    const std::string text = FormatNumber(v, ticks.decimals);
    widest = std::max(widest, text.size());
    doc_->Line(box_.x - kTickLength, Y(v), box_.x, Y(v),
               {kAxisColour, 1.0, "", 1.0}, "tick");
    doc_->Text(box_.x - kTickLength - 3.0, Y(v) + 4.0, text, style);
  }
  if (label.empty()) return;
  TextStyle label_style;
  label_style.size = kLabelFont;
  label_style.anchor = Anchor::kMiddle;
  label_style.rotate = -90.0;
  label_style.css_class = "axis-label";
  const double x = std::max(
      14.0, box_.x - kTickLength - 3.0 - widest * kTickCharWidth - 8.0);
  doc_->Text(x, box_.y + box_.height / 2.0, label, label_style);
}

void Panel::YGrid(double min_step) {
  for (double v : AxisTicks(y_, box_.height / 28.0, min_step).values) {
    doc_->Line(box_.x, Y(v), box_.x + box_.width, Y(v),
               {kGridColour, 1.0, "", 1.0}, "grid");
  }
}

void Panel::Series(const std::vector<double>& xs, const std::vector<double>& ys,
                   const Stroke& stroke) {
  const size_t n = std::min(xs.size(), ys.size());
  std::vector<Point> run;
  auto flush = [&] {
    if (run.size() >= 2) {
      doc_->Polyline(run, stroke, "series");
    } else if (run.size() == 1) {
      doc_->Circle(run[0].x, run[0].y, std::max(2.0, stroke.width + 1.0),
                   stroke.colour, "point");
    }
    run.clear();
  };
  for (size_t i = 0; i < n; ++i) {
    if (Finite(xs[i]) && Finite(ys[i])) {
      run.push_back({X(xs[i]), Y(ys[i])});
    } else {
      flush();
    }
  }
  flush();
}

void Panel::Band(const std::vector<double>& xs, const std::vector<double>& lo,
                 const std::vector<double>& hi, std::string_view colour,
                 double opacity) {
  const size_t n = std::min({xs.size(), lo.size(), hi.size()});
  size_t start = 0;
  auto flush = [&](size_t end) {
    if (end - start >= 2) {
      std::vector<Point> polygon;
      for (size_t i = start; i < end; ++i)
        polygon.push_back({X(xs[i]), Y(hi[i])});
      for (size_t i = end; i-- > start;)
        polygon.push_back({X(xs[i]), Y(lo[i])});
      doc_->Polygon(polygon, colour, opacity, "band");
    }
    start = end + 1;
  };
  for (size_t i = 0; i < n; ++i) {
    if (!(Finite(xs[i]) && Finite(lo[i]) && Finite(hi[i]))) flush(i);
  }
  flush(n);
}

void Panel::HLine(double y, const Stroke& stroke, std::string_view css_class) {
  doc_->Line(box_.x, Y(y), box_.x + box_.width, Y(y), stroke, css_class);
}

void Panel::Legend(const std::vector<LegendEntry>& entries) {
  const double x0 = box_.x + box_.width + 14.0;
  double y = box_.y + 12.0;
  TextStyle style;
  style.size = 11.0;
  for (const LegendEntry& e : entries) {
    doc_->BeginGroup("legend-entry");
    if (e.swatch == Swatch::kLine) {
      Stroke s = e.stroke;
      s.width = std::max(s.width, 2.0);
      doc_->Line(x0, y - 4.0, x0 + 22.0, y - 4.0, s, "legend-swatch");
    } else {
      doc_->Rect(x0 + 3.0, y - 10.0, 16.0, 11.0, e.stroke.colour,
                 "legend-swatch", e.stroke.opacity);
    }
    doc_->Text(x0 + 28.0, y, e.label, style);
    doc_->EndGroup();
    y += kLegendRow;
  }
}

void Panel::Message(std::string_view text) {
  TextStyle style;
  style.size = 14.0;
  style.anchor = Anchor::kMiddle;
  style.colour = "#888888";
  style.css_class = "message";
  doc_->Text(box_.x + box_.width / 2.0, box_.y + box_.height / 2.0 + 5.0, text,
             style);
}

}  // namespace eprop::plot
