using System.Collections.Concurrent;

namespace Distributed.Grains.Tests.Calling;

/// <summary>
/// Makes calls to one method of one grain fail, as a grain whose silo broke down under the call would, so a test
/// class shares one cluster and each test faults only its own grain. Registered in every silo as an incoming filter.
/// </summary>
public sealed class FailingCalls : IIncomingGrainCallFilter
{
    private readonly ConcurrentDictionary<(string GrainKey, string Method), int> _failing = new();
    private readonly ConcurrentDictionary<(string GrainKey, string Method), int> _calls = new();

    /// <summary>Calls of <paramref name="method"/> on the grain keyed <paramref name="grainKey"/> throw until the handle is disposed.</summary>
    public IDisposable Fail(string grainKey, string method)
    {
        _failing[(grainKey, method)] = 0;
        return new Healing(() => _failing.TryRemove((grainKey, method), out _));
    }

    /// <summary>Calls of <paramref name="method"/> that reached the grain keyed <paramref name="grainKey"/> (failed ones included).</summary>
    public int CallsOf(string grainKey, string method) => _calls.GetValueOrDefault((grainKey, method));

    /// <inheritdoc />
    public Task Invoke(IIncomingGrainCallContext context)
    {
        var call = (context.TargetId.Key.ToString()!, context.MethodName);
        _calls.AddOrUpdate(call, 1, (_, n) => n + 1);
        return _failing.ContainsKey(call)
            ? throw new IOException($"Injected: {context.InterfaceName}.{context.MethodName} on '{call.Item1}' failed.")
            : context.Invoke();
    }

    private sealed class Healing(Action heal) : IDisposable
    {
        public void Dispose() => heal();
    }
}
