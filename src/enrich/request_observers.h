#pragma once
// What the remote-write path observes of each request's series: the active metric names always,
// the tracer only while it is enabled. The active-names batch is called directly (it is final),
// so a request whose tracer is off pays one virtual call per series.

#include "enrich/active_metrics.h"
#include "enrich/series_enricher.h"
#include "enrich/series_tracer.h"

namespace tp::enrich {

class RequestObservers final : public SeriesObserver {
 public:
  // `trace`: null while the tracer is disabled.
  RequestObservers(ActiveMetrics::Batch& active, SeriesTracer::Session* trace)
      : active_(active), trace_(trace) {}
  void onResolved(const SeriesResolution& resolution) override {
    active_.onResolved(resolution);
    if (trace_ != nullptr) trace_->onResolved(resolution);
  }

 private:
  ActiveMetrics::Batch& active_;
  SeriesTracer::Session* trace_;
};

}  // namespace tp::enrich
