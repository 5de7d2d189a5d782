// A small SVG writer for static figures: a document with a viewBox, basic
// shapes, XML-escaped text, and plot panels (data-to-pixel mapping, axes
// with nice ticks, legends, titles). No external dependencies; the output
// is a self-contained UTF-8 SVG 1.1 document that any browser displays.
//
// Coordinates are pixels with the origin at the top left, y pointing down.
// Every string passed in (text, class names, colours) is escaped, so the
// output is well-formed XML for any input.
#ifndef EPROP_CORE_PLOT_SVG_H_
#define EPROP_CORE_PLOT_SVG_H_

#include <string>
#include <string_view>
#include <vector>

namespace eprop::plot {

// Replaces & < > " ' by their XML entities; valid in text and attributes.
std::string XmlEscape(std::string_view text);

// Fixed-point text of v with at most `decimals` decimals, trailing zeros
// removed, and no "-0". Non-finite values give "0".
std::string FormatNumber(double v, int decimals = 2);

// A colour-blind-friendly categorical palette; Colour(i) cycles through it.
std::string PaletteColour(int i);

struct Stroke {
  std::string colour = "#000000";
  double width = 1.0;
  std::string dash;  // stroke-dasharray, e.g. "4 3"; empty means solid
  double opacity = 1.0;
};

enum class Anchor { kStart, kMiddle, kEnd };

struct TextStyle {
  double size = 12.0;  // font size in pixels
  Anchor anchor = Anchor::kStart;
  std::string colour = "#222222";
  bool bold = false;
  double rotate = 0.0;    // degrees, clockwise about the anchor point
  std::string css_class;  // emitted as class="..." when non-empty
};

struct Point {
  double x = 0.0;
  double y = 0.0;
};

// Accumulates SVG elements and serialises the document.
class SvgDocument {
 public:
  // A document of width x height pixels with viewBox "0 0 width height" and
  // a white background.
  SvgDocument(double width, double height);

  double width() const { return width_; }
  double height() const { return height_; }

  // Text whose baseline starts (or centres, or ends) at (x, y).
  void Text(double x, double y, std::string_view text, const TextStyle& style);
  void Line(double x1, double y1, double x2, double y2, const Stroke& stroke,
            std::string_view css_class = "");
  // An open polyline; requires at least two points.
  void Polyline(const std::vector<Point>& points, const Stroke& stroke,
                std::string_view css_class = "");
  // A filled closed polygon without outline.
  void Polygon(const std::vector<Point>& points, std::string_view fill,
               double opacity, std::string_view css_class = "");
  // A filled rectangle. An empty fill inherits from the enclosing group.
  void Rect(double x, double y, double w, double h, std::string_view fill,
            std::string_view css_class = "", double opacity = 1.0);
  // An outlined, unfilled rectangle.
  void FrameRect(double x, double y, double w, double h, const Stroke& stroke);
  void Circle(double cx, double cy, double r, std::string_view fill,
              std::string_view css_class = "");

  // Opens a <g> element; children without their own fill inherit `fill`.
  // Every BeginGroup needs a matching EndGroup before ToString().
  void BeginGroup(std::string_view css_class, std::string_view fill = "");
  void EndGroup();

  // The complete document, XML declaration included. Requires all groups to
  // be closed.
  std::string ToString() const;

 private:
  double width_;
  double height_;
  int open_groups_ = 0;
  std::string body_;
};

// A closed interval of data values.
struct Interval {
  double lo = 0.0;
  double hi = 1.0;
};

// Nice tick values (multiples of 1, 2 or 5 times a power of ten) inside
// [lo, hi], about `target_count` of them, with a step of at least min_step
// (0 for no minimum). `decimals` is the number of decimals that shows the
// step exactly.
struct Ticks {
  std::vector<double> values;
  double step = 1.0;
  int decimals = 0;
};
Ticks NiceTicks(double lo, double hi, int target_count = 5,
                double min_step = 0.0);

// [lo, hi] widened outward to multiples of the nice tick step. Degenerate or
// non-finite input gives a usable, non-empty interval.
Interval NiceInterval(double lo, double hi, int target_count = 5);

// Smallest and largest finite value of `values`; {0, 1} if there is none.
Interval FiniteRange(const std::vector<double>& values);

// A rectangle in pixels.
struct Box {
  double x = 0.0;
  double y = 0.0;
  double width = 0.0;
  double height = 0.0;
};

enum class Swatch { kLine, kBox };

struct LegendEntry {
  std::string label;
  Swatch swatch = Swatch::kLine;
  Stroke stroke;  // kLine: the line; kBox: stroke.colour fills the box
};

// One plot area of a document: maps data coordinates (x, y ranges) onto a
// pixel box and draws axes, series and annotations into the document. The
// document must outlive the panel.
class Panel {
 public:
  Panel(SvgDocument* doc, Box box, Interval x, Interval y);

  SvgDocument* doc() const { return doc_; }
  const Box& box() const { return box_; }
  // Pixel coordinates of data coordinates.
  double X(double x) const;
  double Y(double y) const;
  // Pixels per data unit along x.
  double XScale() const;
  double YScale() const;

  // Bold title above the top left corner of the box.
  void Title(std::string_view text);
  // Frame, x ticks (step >= min_step) with labels if tick_labels, and the
  // x label below (none if empty).
  void XAxis(std::string_view label, bool tick_labels, double min_step = 0.0);
  // Y ticks with labels (step >= min_step) and the rotated y label.
  void YAxis(std::string_view label, double min_step = 0.0);
  // Light horizontal grid lines at the y ticks.
  void YGrid(double min_step = 0.0);
  // A line through the finite points (xs[i], ys[i]); runs are split at
  // non-finite values, and isolated points are drawn as dots. Each run of
  // two or more points is one <polyline class="series">. Requires equal
  // sizes.
  void Series(const std::vector<double>& xs, const std::vector<double>& ys,
              const Stroke& stroke);
  // A shaded band between lo and hi, split at non-finite values.
  void Band(const std::vector<double>& xs, const std::vector<double>& lo,
            const std::vector<double>& hi, std::string_view colour,
            double opacity);
  // A horizontal line across the box at data value y.
  void HLine(double y, const Stroke& stroke, std::string_view css_class);
  // Legend to the right of the box, one row per entry.
  void Legend(const std::vector<LegendEntry>& entries);
  // Grey centred message inside the box (e.g. "no data").
  void Message(std::string_view text);

  // Vertical pixels one legend row takes.
  static constexpr double kLegendRow = 16.0;

 private:
  SvgDocument* doc_;
  Box box_;
  Interval x_;
  Interval y_;
};

}  // namespace eprop::plot

#endif  // EPROP_CORE_PLOT_SVG_H_
