/// The languages Tollgate writes in (pages, mail, documents, catalog texts): one list for all.
public enum Languages {
    public static let supported = ["en", "fr"]
    /// The language of whoever has none on record, and of any word missing in another.
    public static let fallback = "en"
}
