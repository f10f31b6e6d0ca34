/// FNV-1a, 64 bits: enough to notice an edit or to name a file after a path, without a crypto dependency.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func mix(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
    }

    /// The hash of `text` as 16 hex digits.
    public static func hex(_ text: String) -> String {
        var hash = FNV1a()
        hash.mix(text.utf8)
        let digits = String(hash.value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
