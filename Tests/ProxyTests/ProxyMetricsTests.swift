import Testing

@testable import DevhostProxy

/// The proxy's counters, as `/_devhost/metrics` reports them.
@Suite struct ProxyMetricsTests {
    @Test func eachDurationFallsInTheFirstBucketThatHoldsIt() {
        for (index, bound) in ProxyMetrics.buckets.enumerated() {
            #expect(ProxyMetrics.bucket(bound) == index, "exactly on \(bound)")
            #expect(ProxyMetrics.bucket(bound.nextUp) == (index + 1 < ProxyMetrics.buckets.count ? index + 1 : nil), "just over \(bound)")
        }
        #expect(ProxyMetrics.bucket(0) == 0)
        #expect(ProxyMetrics.bucket(60) == nil, "past the last bound only +Inf counts it")
    }

    @Test func statusesAndBucketsAddUpInThePrometheusText() {
        let metrics = ProxyMetrics()
        let api = metrics.route("api")
        metrics.record(api, status: 200, seconds: 0.0004)
        metrics.record(api, status: 200, seconds: 0.02)
        metrics.record(api, status: 503, seconds: 30)
        metrics.record(metrics.route("web.localhost"), status: 404, seconds: 0.002)
        let text = metrics.prometheus()
        #expect(text.contains("devhost_proxy_requests_total{route=\"api\",status=\"200\"} 2\n"))
        #expect(text.contains("devhost_proxy_requests_total{route=\"api\",status=\"503\"} 1\n"))
        #expect(text.contains("devhost_proxy_requests_total{route=\"web.localhost\",status=\"404\"} 1\n"))
        #expect(!text.contains("status=\"0\""), "statuses never seen are not listed")
        #expect(text.contains("devhost_proxy_request_duration_seconds_bucket{route=\"api\",le=\"0.001\"} 1\n"))
        #expect(text.contains("devhost_proxy_request_duration_seconds_bucket{route=\"api\",le=\"0.025\"} 2\n"), "buckets are cumulative")
        #expect(text.contains("devhost_proxy_request_duration_seconds_bucket{route=\"api\",le=\"10.0\"} 2\n"))
        #expect(text.contains("devhost_proxy_request_duration_seconds_bucket{route=\"api\",le=\"+Inf\"} 3\n"))
        #expect(text.contains("devhost_proxy_request_duration_seconds_count{route=\"api\"} 3\n"))
    }
}
