import DevhostManifest
import Foundation

/// What `devhost trust` added, kept beside the CA (trust.json) so `--uninstall` removes exactly
/// that and `doctor` knows where to look.
public struct TrustRecord: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        /// `system` or `nss`.
        public var store: String
        /// The certificate file (system) or the database folder (nss).
        public var location: String
        /// The NSS nickname; the system store's root folder for its tool.
        public var name: String
    }

    public var entries: [Entry] = []

    public init(entries: [Entry] = []) { self.entries = entries }

    public static func load(_ files: LocalCAFiles) throws -> TrustRecord {
        guard let data = FileManager.default.contents(atPath: files.trustRecord) else { return TrustRecord() }
        do {
            return try JSONDecoder().decode(TrustRecord.self, from: data)
        } catch {
            throw TLSError("\(files.trustRecord): not a trust record devhost wrote (\(error)); remove it after checking the stores by hand")
        }
    }

    public func save(_ files: LocalCAFiles) throws {
        if entries.isEmpty {
            unlink(files.trustRecord)
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try LocalCA.writeAtomically(Array(try encoder.encode(self)) + [0x0A], to: files.trustRecord, mode: 0o600)
    }

    mutating func add(_ entry: Entry) {
        if !entries.contains(entry) { entries.append(entry) }
    }
}
