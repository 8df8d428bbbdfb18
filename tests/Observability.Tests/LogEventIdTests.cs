using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Distributed.Observability.Tests;

/// <summary>
/// Operators filter and alert on log event ids (docs/observability.md), so an id must mean one thing in the process that
/// writes it: every <c>[LoggerMessage]</c> id is unique across the assemblies one process loads.
/// </summary>
[Trait("Category", "Observability")]
public sealed class LogEventIdTests
{
    [Theory]
    [InlineData("gateway", new[] { "Distributed.Gateway", "Distributed.ServiceDefaults", "Distributed.Grains.Abstractions" })]
    [InlineData("silo", new[] { "Distributed.Silo", "Distributed.Grains", "Distributed.ServiceDefaults", "Distributed.Grains.Abstractions" })]
    public void EveryLogEventId_MeansOneMessageInItsProcess(string process, string[] assemblies)
    {
        var messages = assemblies
            .Select(Assembly.Load)
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .ToList();
        Assert.True(messages.Count > 20, $"{process}: only {messages.Count} [LoggerMessage] methods found; the scan misses some.");

        var shared = messages
            .GroupBy(m => m.Attribute!.EventId)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => $"{m.Method.DeclaringType!.Name}.{m.Method.Name}"))}")
            .ToList();
        Assert.True(shared.Count == 0, $"{process}: event ids used by more than one message: {string.Join("; ", shared)}");
    }
}
