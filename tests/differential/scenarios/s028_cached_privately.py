"""cached_privately caches a property of a frozen model without making it a field."""

from miniagents import Message, cached_privately

calls = []


class Report(Message):
    title: str

    @property
    @cached_privately
    def shout(self):
        calls.append(1)
        return self.title.upper()


report = Report(title="hi")
print(report.shout, report.shout, len(calls))
print(report.serialize())
print(report.hash_key)
