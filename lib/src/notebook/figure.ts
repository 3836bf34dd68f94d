/** A plotly figure: traces, layout and config as plotly.js takes them (built by bench, shown by notebook). */
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}
