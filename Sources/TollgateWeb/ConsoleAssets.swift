import Foundation

/// Where the console's stylesheet and script are shipped.
public enum ConsoleAssets {
    public static var bundle: Bundle { Bundle.module }
}
