// swift-tools-version:6.1
// Builds swift-openapi-generator's command for scripts/generate-client.sh, apart from the main
// package so that neither the generator nor OpenAPIKit is in Tollgate's own build.
import PackageDescription

let package = Package(
    name: "openapi-generator",
    dependencies: [
        .package(url: "https://github.com/apple/swift-openapi-generator.git", exact: "1.14.3")
    ]
)
