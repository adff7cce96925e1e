import Foundation
import Synchronization
import TollgateCore
import TollgateDocuments
import TollgateStorage

/// Invoices' and credit notes' PDFs, for every door (the API, the console, the portal, mail):
/// rendered on Dispatch's threads, one at a time per spare core with a few waiting (beyond, 503),
/// so a 10,000-line invoice never holds the threads that answer requests; and kept once rendered,
/// as long as the record they were rendered from is unchanged — a finalized invoice does not
/// change, so its downloads after the first cost nothing.
final class DocumentRenderer: Sendable {
    private struct Rendered: Sendable {
        let source: Source
        let bytes: [UInt8]
    }

    private enum Source: Sendable, Equatable {
        case invoice(InvoiceRecord)
        case creditNote(CreditNoteRecord, InvoiceRecord)
    }

    private let work: BoundedWork
    private let rendered = Mutex(0)

    /// Documents drawn since start (not those answered from what was kept).
    var renders: Int { rendered.withLock { $0 } }
    /// At most 16 documents of at most 4 MiB each: 64 MiB at the very most.
    private let kept = Mutex(LRUCache<String, Rendered>(capacity: 16))
    /// Larger documents are rendered each time (bounded all the same), not kept.
    static let largestKept = 4 << 20

    /// Whose language a document is in: its customer's.
    private let customers: any CustomerStore

    init(
        customers: any CustomerStore, width: Int = max(1, ProcessInfo.processInfo.activeProcessorCount - 1),
        depth: Int = 16
    ) {
        self.customers = customers
        work = BoundedWork(name: "rendering documents", width: width, depth: depth)
    }

    private func language(_ customer: String) async throws -> DocumentLanguage {
        DocumentLanguage(locale: try await customers.customer(id: customer)?.locale)
    }

    func pdf(_ invoice: InvoiceRecord) async throws -> [UInt8] {
        let language = try await language(invoice.subject)
        return try await pdf(key: "invoice:\(invoice.id):\(language.code)", source: .invoice(invoice)) {
            try InvoicePDF.render(invoice, language: language)
        }
    }

    func pdf(_ note: CreditNoteRecord, invoice: InvoiceRecord) async throws -> [UInt8] {
        let language = try await language(invoice.subject)
        return try await pdf(key: "credit_note:\(note.id):\(language.code)", source: .creditNote(note, invoice)) {
            try InvoicePDF.render(note, invoice: invoice, language: language)
        }
    }

    private func pdf(key: String, source: Source, render: @escaping @Sendable () throws -> [UInt8]) async throws
        -> [UInt8]
    {
        if let rendered = kept.withLock({ $0.get(key) }), rendered.source == source { return rendered.bytes }
        let bytes = try await work.run(render)
        rendered.withLock { $0 += 1 }
        if bytes.count <= Self.largestKept {
            kept.withLock { _ = $0.set(key, Rendered(source: source, bytes: bytes)) }
        }
        return bytes
    }
}
