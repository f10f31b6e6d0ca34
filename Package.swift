// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "devhost",
    // Linux only: the build links libgit2 statically with GNU linker flags, and the runtime reads
    // /proc and spawns through Linux's process model. No macOS claim is made that the build cannot keep.
    products: [
        .executable(name: "devhost", targets: ["devhost"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        // The local CA and its leaf certificates (DevhostTLS). swift-certificates 1.21.1 accepts
        // swift-crypto 3.12.3..<6; both compile BoringSSL once, so a clean build takes minutes longer.
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // HTTP/2 to clients on the HTTPS listener (ALPN h2): each stream is bridged to the proxy's
        // HTTP/1.1 handler (Sources/Proxy/HTTP2Bridge.swift).
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
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
        // libgit2's headers (apt libgit2-dev).
        .systemLibrary(name: "CLibGit2", path: "Sources/CLibGit2"),
        // libgit2 and the libraries it needs, linked in statically from the same apt packages:
        // loading libgit2.so brought about twenty shared libraries (TLS, SSH, Kerberos, OpenSSL),
        // ~1.5-4 ms that was most of `devhost init`'s critical path. Statically linked into a
        // position-dependent binary they cost nothing until their pages are touched. GSSAPI has no
        // static library and is loaded on first use instead (gssapi_on_demand.c); --wrap routes
        // libgit2's CA bundle parse through ca_bundle.c. GNU-linker flags: Linux only.
        .target(
            name: "CGitSupport", dependencies: ["CLibGit2"], path: "Sources/CGitSupport",
            linkerSettings: [
                .unsafeFlags(
                    ["--start-group", "-l:libgit2.a", "-l:libmbedtls.a", "-l:libmbedx509.a", "-l:libmbedcrypto.a", "-l:libssh2.a",
                     "-l:libcrypto.a", "-l:libhttp_parser.a", "-l:libpcre2-8.a", "-l:libz.a", "--end-group",
                     "--wrap=mbedtls_x509_crt_parse_file"].flatMap { ["-Xlinker", $0] },
                    .when(platforms: [.linux]))
            ]
        ),
        .target(
            name: "DevhostInit",
            dependencies: [
                "DevhostManifest", "DevhostCompose", "CLibGit2", "CGitSupport",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/Init"
        ),
        .target(name: "CDevhostSpawn", path: "Sources/CSpawn"),
        // What carries traffic: the reverse proxy, the route and instance tables, the TCP relays. It
        // imports neither Runtime nor the CLI, so the compiler keeps it from reaching into the
        // supervisor; Runtime feeds it routes and healthy endpoints, and its terminal (LogTerminal).
        .target(
            name: "DevhostProxy",
            dependencies: [
                "DevhostManifest", "DevhostTLS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            path: "Sources/Proxy"
        ),
        // The per-user certificate authority, leaf certificates issued by SNI, the TLS server
        // configuration the proxy adds to its pipeline, and the trust stores `devhost trust` writes.
        .target(
            name: "DevhostTLS",
            dependencies: [
                "DevhostManifest",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/TLS"
        ),
        .target(
            name: "DevhostRuntime",
            dependencies: [
                "DevhostManifest", "DevhostProxy", "CDevhostSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // The gRPC health check's header blocks (Health/GRPCHealthProbe.swift).
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            path: "Sources/Runtime"
        ),
        .executableTarget(
            name: "devhost",
            dependencies: [
                "DevhostManifest", "DevhostCompose", "DevhostInit", "DevhostProxy", "DevhostRuntime", "DevhostTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/devhost",
            // Exports nothing: the static Swift runtime's link arguments export every symbol of the
            // program (13,500), and the runtime's own `dladdr` at start-up went through them.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux]))]
        ),
        .target(name: "DevhostTestSupport", dependencies: ["DevhostManifest", "DevhostProxy", "DevhostRuntime", "CDevhostSpawn"], path: "Tests/Support"),
        .testTarget(name: "ManifestTests", dependencies: ["DevhostManifest", "DevhostTestSupport"], path: "Tests/ManifestTests"),
        .testTarget(
            name: "ComposeTests", dependencies: ["DevhostCompose", "DevhostManifest", "DevhostTestSupport", "Yams"],
            path: "Tests/ComposeTests"),
        .testTarget(
            name: "InitTests", dependencies: ["DevhostInit", "DevhostManifest", "DevhostRuntime", "DevhostTestSupport"], path: "Tests/InitTests"),
        // The executable's own argument handling (it is thin: everything else is tested in its module).
        .testTarget(name: "CLITests", dependencies: ["devhost"], path: "Tests/CLITests"),
        .testTarget(
            name: "RuntimeTests",
            dependencies: [
                "DevhostRuntime", "DevhostProxy", "DevhostManifest", "DevhostTestSupport", .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            path: "Tests/RuntimeTests"),
        // The proxy on its own: parsing, framing, refusals and the access log without sockets, and
        // hostile input against a real proxy in front of an upstream that reads with h11.
        .testTarget(
            name: "ProxyTests",
            dependencies: ["DevhostProxy", "DevhostManifest", "DevhostTestSupport", .product(name: "NIOEmbedded", package: "swift-nio")],
            path: "Tests/ProxyTests"),
        // The CA, leaf issuance and the TLS building block against real clients (curl, openssl,
        // Python's ssl), and the trust stores in temporary folders.
        .testTarget(
            name: "TLSTests",
            dependencies: [
                "DevhostTLS", "DevhostManifest", "DevhostTestSupport",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/TLSTests"),
    ],
    swiftLanguageModes: [.v6]
)

// Coverage-guided fuzzing (docs/fuzzing.md): scripts/fuzz.sh sets DEVHOST_FUZZ=1 and builds this one
// product with libFuzzer and AddressSanitizer in its own scratch path (.build-fuzz). Without the
// variable the target does not exist, so ordinary builds, tests and releases never compile or link it.
// It reads the proxy's internal types through `@testable import`: debug builds only. The code under
// test is optimised (5-10 times the inputs a second); its dependencies are not, which halves the build.
if Context.environment["DEVHOST_FUZZ"] != nil {
    for target in package.targets where ["DevhostManifest", "DevhostProxy"].contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-O"])]
    }
    // The fuzz targets reach the proxy's head parser, body framing and refusals only, so the proxy
    // module is built from those files here: the sanitized build compiles no TLS, HTTP/2 or BoringSSL.
    if let proxy = package.targets.first(where: { $0.name == "DevhostProxy" }) {
        proxy.sources = ["HTTPHead.swift", "HTTPHead+Tokens.swift", "HTTPHead+Values.swift", "BodyFraming.swift", "RequestRefusal.swift"]
        proxy.dependencies = [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")]
    }
    package.products.append(.executable(name: "devhost-fuzz", targets: ["DevhostFuzz"]))
    package.targets.append(
        .executableTarget(
            name: "DevhostFuzz",
            dependencies: ["DevhostManifest", "DevhostProxy", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/Sources",
            swiftSettings: [.unsafeFlags(["-O"])]
        ))
}
