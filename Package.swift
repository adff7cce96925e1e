// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tollgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tollgate", targets: ["tollgate"]),
        .library(name: "TollgateCore", targets: ["TollgateCore"]),
        .library(name: "TollgateServer", targets: ["TollgateServer"]),
        // The typed Swift client of Tollgate's API for a product's backend, generated from openapi.yaml.
        .library(name: "TollgateClient", targets: ["TollgateClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-openapi-async-http-client.git", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Pure domain: no I/O, no HTTP.
        .target(
            name: "TollgateCore",
            dependencies: [.product(name: "Yams", package: "Yams")],
            // Every word of the pages and e-mails, one file per language.
            resources: [.copy("Resources/words")],
            swiftSettings: swiftSettings
        ),
        // Storage interface: the records and one protocol per aggregate. No SQL.
        .target(
            name: "TollgateStorage",
            dependencies: ["TollgateCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The one SQL implementation of the storage protocols (SQLite and PostgreSQL): SQLStore,
        // providers, migrations, the SQLite writer and checkpointer.
        .target(
            name: "TollgateSQL",
            dependencies: [
                "TollgateCore", "TollgateStorage",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The pages people see (console, later the portal): HTML built safely in Swift, charts as
        // SVG, the words in English and French, one stylesheet and one small script.
        .target(
            name: "TollgateWeb",
            dependencies: ["TollgateCore", "TollgateStorage", .product(name: "Yams", package: "Yams")],
            resources: [
                .copy("Resources/console.css"), .copy("Resources/console.js"),
            ],
            swiftSettings: swiftSettings
        ),
        // Identity primitives: tokens, TOTP, password hashing, encryption at rest. No HTTP.
        .target(
            name: "TollgateIdentity",
            dependencies: [
                "TollgateCore", "TollgateStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            resources: [.copy("Resources/common-passwords.txt")],
            swiftSettings: swiftSettings
        ),
        // Long-lived pieces every library runs alike: the periodic service.
        .target(
            name: "TollgateRuntime",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Billing: subscriptions, invoices, and the payment providers (manual, Stripe) behind one façade.
        .target(
            name: "TollgateBilling",
            dependencies: [
                "TollgateCore", "TollgateStorage", "TollgateRuntime", "TollgateMeter",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The hot path: in-memory counters with group commit.
        .target(
            name: "TollgateMeter",
            dependencies: [
                "TollgateCore", "TollgateStorage", "TollgateRuntime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Notifications: the outbox delivered (e-mail as files or over SMTP, events fanned out, webhooks signed).
        .target(
            name: "TollgateNotify",
            dependencies: [
                "TollgateCore", "TollgateStorage", "TollgateIdentity",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
            ],
            resources: [.copy("Resources/mail")],
            swiftSettings: swiftSettings
        ),
        // Documents Tollgate renders itself: invoices and credit notes as PDF, with an embedded
        // subset of DejaVu Sans (Bitstream Vera licence, in Resources).
        .target(
            name: "TollgateDocuments",
            dependencies: ["TollgateCore", "TollgateStorage"],
            resources: [
                .copy("Resources/DejaVuSans.ttf"), .copy("Resources/DejaVuSans-Bold.ttf"),
                .copy("Resources/DejaVu-LICENSE.txt"),
            ],
            swiftSettings: swiftSettings
        ),
        // The operator's reports (revenue, customers, usage, activity), assembled once for every door.
        .target(
            name: "TollgateAnalytics",
            dependencies: ["TollgateCore", "TollgateStorage"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TollgateServer",
            dependencies: [
                "TollgateCore", "TollgateStorage", "TollgateSQL", "TollgateMeter", "TollgateIdentity",
                "TollgateBilling", "TollgateNotify", "TollgateDocuments", "TollgateWeb", "TollgateRuntime",
                "TollgateAnalytics",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/memento.yaml"), .copy("Resources/openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        // `tollgate bench`: the meter and the server measured against baselines in the same run.
        .target(
            name: "TollgateBench",
            dependencies: [
                "TollgateCore", "TollgateStorage", "TollgateSQL", "TollgateMeter", "TollgateServer", "TollgateIdentity",
                "TollgateAnalytics",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tollgate",
            dependencies: [
                "TollgateServer", "TollgateCore", "TollgateStorage", "TollgateSQL", "TollgateIdentity", "TollgateMeter",
                "TollgateBench", "TollgateNotify", "TollgateBilling",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Generated by scripts/generate-client.sh (committed, checked for drift by the test command)
        // plus the secret-key middleware; depends on the OpenAPI runtime only, any transport works.
        .target(
            name: "TollgateClient",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "TollgateCore", "TollgateStorage", "TollgateSQL", "TollgateMeter", "TollgateIdentity",
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TollgateCoreTests",
            dependencies: [
                "TollgateCore", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TollgateAnalyticsTests",
            dependencies: ["TollgateAnalytics", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TollgateBillingTests",
            dependencies: ["TollgateBilling", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TollgateWebTests",
            dependencies: [
                "TollgateWeb", "TollgateCore", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TollgateIdentityTests",
            dependencies: ["TollgateIdentity", "TestSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TollgateStorageTests",
            dependencies: [
                "TollgateStorage", "TollgateSQL", "TollgateMeter", "TollgateNotify", "TollgateIdentity", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TollgateServerTests",
            dependencies: [
                "TollgateServer", "TollgateStorage", "TollgateSQL", "TestSupport", "TollgateClient", "TollgateNotify",
                "TollgateDocuments", "TollgateWeb",
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
