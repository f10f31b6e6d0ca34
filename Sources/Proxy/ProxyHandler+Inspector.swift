/// The request inspector's one hook at the start of an exchange (the others are single calls on
/// `ProxyExchange.inspected` where the bytes pass).
extension ProxyHandler {
    /// Records `exchange` when the inspector is on and its route is recorded (a flag resolved
    /// with the route). devhost's own dashboard and control API (the socket target) are left out:
    /// the dashboard's polling would fill the list with itself.
    func inspect(_ exchange: ProxyExchange) {
        guard let inspection, exchange.route.inspected, inspection.recording else { return }
        if case .socket? = exchange.route.target { return }
        exchange.inspected = inspection.begin(exchange, secure: secure)
    }
}
