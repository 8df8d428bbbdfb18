using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Distributed.Gateway.Tests.Fakes;

/// <summary>A logger that keeps the id and the text of every event written to it.</summary>
internal sealed class EventLog<T> : ILogger<T>
{
    private readonly ConcurrentQueue<(int Id, string Message)> _events = new();

    public IReadOnlyCollection<int> Ids => [.. _events.Select(e => e.Id)];

    public IReadOnlyCollection<(int Id, string Message)> Events => _events;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _events.Enqueue((eventId.Id, formatter(state, exception)));
}
