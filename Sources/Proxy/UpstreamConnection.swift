import NIOCore

/// A keep-alive connection to an upstream endpoint: in use by one client's `ProxyHandler`, or idle
/// in its event loop's `UpstreamPool`.
final class UpstreamConnection {
    let channel: Channel
    let key: UpstreamPool.Key
    /// For a service, the instance behind it (passive health marks that one down).
    let instance: String?
    let handler: UpstreamHandler

    init(channel: Channel, key: UpstreamPool.Key, instance: String?, handler: UpstreamHandler) {
        self.channel = channel
        self.key = key
        self.instance = instance
        self.handler = handler
    }
}
