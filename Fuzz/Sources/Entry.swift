#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fuzz targets: one binary, the target chosen with `--target=NAME` (libFuzzer ignores flags
/// that start with `--`) or `DEVHOST_FUZZ_TARGET`. Each checks properties of what it parses, not
/// only that nothing crashes; a violated property stops the run through `check`, which libFuzzer
/// reports as a crash with the input saved.
enum FuzzTarget: String, CaseIterable {
    case head, framing, manifest

    /// Runs one input. libFuzzer: 0 normally, -1 for an input that must not enter the corpus.
    func run(_ data: [UInt8]) -> Int32 {
        switch self {
        case .head:
            HeadTarget.run(data)
            return 0
        case .framing:
            FramingTarget.run(data)
            return 0
        case .manifest:
            return ManifestTarget.run(data)
        }
    }

    static func named(in arguments: [String], environment: String?) -> FuzzTarget? {
        let flag = arguments.last { $0.hasPrefix("--target=") }.map { String($0.dropFirst("--target=".count)) }
        return (flag ?? environment).flatMap(FuzzTarget.init(rawValue:))
    }
}

/// A property of the code under test: when it does not hold, the input is a finding.
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError("property violated: \(message())", file: file, line: line) }
}

func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

#if DEVHOST_LIBFUZZER
nonisolated(unsafe) private var selected: FuzzTarget?

@_cdecl("LLVMFuzzerTestOneInput")
public func devhostFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if selected == nil {
        let variable = getenv("DEVHOST_FUZZ_TARGET").map { String(cString: $0) }
        guard let target = FuzzTarget.named(in: CommandLine.arguments, environment: variable) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            printError("devhost-fuzz: name a target with --target=NAME or DEVHOST_FUZZ_TARGET (\(names))")
            exit(2)
        }
        selected = target
    }
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    return selected!.run(bytes)
}
#else
/// Built without libFuzzer (`DEVHOST_FUZZ=1 swift build --product devhost-fuzz`): replays inputs,
/// for a debugger or a build without sanitizers. `devhost-fuzz head Fuzz/corpus/head crash-…`.
@main
struct Replay {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            printError("usage: devhost-fuzz \(names) FILE-OR-FOLDER...")
            exit(2)
        }
        arguments.removeFirst()
        var count = 0
        for path in arguments.flatMap(files) {
            guard let bytes = readFile(path) else {
                printError("devhost-fuzz: cannot read \(path)")
                exit(1)
            }
            _ = target.run(bytes)
            count += 1
        }
        print("devhost-fuzz \(name): \(count) inputs, every property held")
    }

    /// `path` itself, or the regular files under it.
    static func files(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [path] }
        defer { closedir(dir) }
        var found: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            found += files(path + "/" + name)
        }
        return found.sorted()
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }
}
#endif

/// Deterministic choices from the input itself (libFuzzer needs a run to depend on its input only).
struct SplitMix {
    var state: UInt64

    init(_ bytes: [UInt8]) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        state = hash
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (`bound` > 0).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
