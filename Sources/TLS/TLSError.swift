import Foundation

/// What went wrong with the local certificate authority, a leaf certificate or a trust store.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
