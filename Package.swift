// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "devhost",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "devhost", targets: ["devhost"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .target(
            name: "DevhostManifest",
            dependencies: [.product(name: "Yams", package: "Yams")],
            path: "Sources/Manifest"
        ),
        .target(
            name: "DevhostCompose",
            dependencies: ["DevhostManifest", .product(name: "Yams", package: "Yams")],
            path: "Sources/Compose"
        ),
        // libgit2's headers only (apt libgit2-dev); the library itself is loaded on first use by
        // CGitLoader, so no command pays for loading it at start-up.
        .systemLibrary(name: "CLibGit2", path: "Sources/CLibGit2"),
        .target(name: "CGitLoader", path: "Sources/CGitLoader"),
        .target(
            name: "DevhostInit",
            dependencies: [
                "DevhostManifest", "DevhostCompose", "CLibGit2", "CGitLoader",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/Init"
        ),
        .target(name: "CDevhostSpawn", path: "Sources/CSpawn"),
        .target(
            name: "DevhostRuntime",
            dependencies: [
                "DevhostManifest", "CDevhostSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Sources/Runtime"
        ),
        .executableTarget(
            name: "devhost",
            dependencies: [
                "DevhostManifest", "DevhostCompose", "DevhostInit", "DevhostRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/devhost",
            // Exports one symbol: CGitLoader's stand-in for mbedTLS's CA bundle parse, so it takes
            // libgit2's call (ca_bundle.c). Not the rest: the static Swift runtime's link arguments
            // export every symbol of the program (13,500), and each of the ~6,000 symbol lookups
            // made while libgit2 and its libraries load, and the runtime's own `dladdr` at start-up,
            // went through them.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic-symbol=mbedtls_x509_crt_parse_file", "-Xlinker", "--no-export-dynamic"])]
        ),
        .target(name: "DevhostTestSupport", dependencies: ["DevhostManifest", "DevhostRuntime", "CDevhostSpawn"], path: "Tests/Support"),
        .testTarget(name: "ManifestTests", dependencies: ["DevhostManifest", "DevhostTestSupport"], path: "Tests/ManifestTests"),
        .testTarget(
            name: "ComposeTests", dependencies: ["DevhostCompose", "DevhostManifest", "DevhostTestSupport", "Yams"],
            path: "Tests/ComposeTests"),
        .testTarget(
            name: "InitTests", dependencies: ["DevhostInit", "DevhostManifest", "DevhostRuntime", "DevhostTestSupport"], path: "Tests/InitTests"),
        // The executable's own argument handling (it is thin: everything else is tested in its module).
        .testTarget(name: "CLITests", dependencies: ["devhost"], path: "Tests/CLITests"),
        .testTarget(name: "RuntimeTests", dependencies: ["DevhostRuntime", "DevhostManifest", "DevhostTestSupport"], path: "Tests/RuntimeTests"),
    ],
    swiftLanguageModes: [.v6]
)
