using System.Reflection;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orleans.Serialization.Invocation;

namespace Distributed.Grains.Tests.Calling;

[Trait("Category", "Unit")]
public sealed class RejectedCallRetryFilterTests
{
    private readonly PausesSeen _time = new();

    private static Response Rejected() => Response.FromException(Rejection());

    // What a silo that is stopping answers; Orleans makes these itself (the constructor is internal).
    private static OrleansMessageRejectionException Rejection() =>
        (OrleansMessageRejectionException)Activator.CreateInstance(typeof(OrleansMessageRejectionException), BindingFlags.Instance | BindingFlags.NonPublic, null, ["Silo stopping"], null)!;

    private static Response Answered() => Response.FromResult("b1");

    [Fact]
    public async Task Invoke_RejectedTwiceThenAnswered_SendsAgainAfterDoublingPausesAndReturnsTheAnswer()
    {
        var call = new FakeCall(_time, Rejected, Rejected, Answered);

        await RunAsync(call);

        Assert.Equal([TimeSpan.Zero, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(60)], call.SentAt);
        Assert.Equal("b1", call.Response!.Result);
    }

    [Fact]
    public async Task Invoke_RejectedEveryTime_GivesUpAfterMaxAttemptsWithTheRejection()
    {
        var call = new FakeCall(_time, Enumerable.Repeat<Func<Response>>(Rejected, 10).ToArray());

        await RunAsync(call);

        Assert.Equal(RejectedCallRetryFilter.MaxAttempts, call.SentAt.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(20 + 40 + 80 + 160 + 320), call.SentAt[^1]);
        Assert.IsType<OrleansMessageRejectionException>(call.Response!.Exception);
    }

    [Fact]
    public async Task Invoke_RejectionThrownInsteadOfReturned_IsSentAgainAndTheLastOneRethrown()
    {
        var call = new FakeCall(_time, Enumerable.Repeat<Func<Response>>(() => throw Rejection(), 10).ToArray());

        await Assert.ThrowsAsync<OrleansMessageRejectionException>(() => RunAsync(call));
        Assert.Equal(RejectedCallRetryFilter.MaxAttempts, call.SentAt.Count);
    }

    [Fact]
    public async Task Invoke_SiloDiedUnderTheCallOrTheGrainFailed_IsNotSentAgain()
    {
        // A call whose silo died may have run; a grain's own exception is its answer.
        var died = new FakeCall(_time, () => Response.FromException(new SiloUnavailableException("gone")), Answered);
        var failed = new FakeCall(_time, () => Response.FromException(new InvalidOperationException("no")), Answered);

        await RunAsync(died);
        await RunAsync(failed);

        Assert.Single(died.SentAt);
        Assert.IsType<SiloUnavailableException>(died.Response!.Exception);
        Assert.Single(failed.SentAt);
    }

    [Fact]
    public async Task Invoke_CallersBudgetRunsOutDuringAPause_StopsWithTheRejection()
    {
        using var budget = new CancellationTokenSource();
        var call = new FakeCall(_time, Rejected, Answered) { Cancellation = budget.Token };
        var filter = new RejectedCallRetryFilter(_time, NullLogger<RejectedCallRetryFilter>.Instance);

        var invoking = filter.Invoke(call);
        await budget.CancelAsync();
        await invoking;

        Assert.Single(call.SentAt);
        Assert.IsType<OrleansMessageRejectionException>(call.Response!.Exception);
    }

    // Runs the filter, moving the fake clock on by exactly each pause once the filter has started it: no step of the
    // clock can run ahead of the filter's next pause, however late its continuations run.
    private async Task RunAsync(FakeCall call)
    {
        var invoking = new RejectedCallRetryFilter(_time, NullLogger<RejectedCallRetryFilter>.Instance).Invoke(call);
        var advanced = 0;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!invoking.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline, "The filter neither finished nor paused.");
            if (_time.Pauses.Count > advanced)
            {
                _time.Advance(_time.Pauses[advanced++]);
            }
            else
            {
                await Task.Delay(1);
            }
        }

        await invoking;
    }

    /// <summary>A fake clock that remembers the pause of every timer started on it.</summary>
    private sealed class PausesSeen : FakeTimeProvider
    {
        private readonly List<TimeSpan> _pauses = [];

        public IReadOnlyList<TimeSpan> Pauses
        {
            get
            {
                lock (_pauses)
                {
                    return [.. _pauses];
                }
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            lock (_pauses)
            {
                _pauses.Add(dueTime);
            }

            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    /// <summary>An outgoing call whose attempts answer in turn with <paramref name="answers"/>.</summary>
    private sealed class FakeCall(TimeProvider time, params Func<Response>[] answers) : IOutgoingGrainCallContext
    {
        private readonly DateTimeOffset _start = time.GetUtcNow();

        public List<TimeSpan> SentAt { get; } = [];

        public CancellationToken Cancellation { get; init; }

        public IInvokable Request => new FakeRequest(Cancellation);

        public object Grain => this;

        public GrainId? SourceId => null;

        public GrainId TargetId => GrainId.Create("session", GrainKeys.Session("web", "s1"));

        public GrainInterfaceType InterfaceType => GrainInterfaceType.Create("ISessionGrain");

        public string InterfaceName => "ISessionGrain";

        public string MethodName => "GetOrPinAsync";

        public MethodInfo InterfaceMethod => typeof(ISessionGrain).GetMethod(nameof(ISessionGrain.GetOrPinAsync))!;

        public object? Result { get => Response?.Result; set => Response = Response.FromResult(value); }

        public Response? Response { get; set; }

        public IGrainContext? SourceContext => null;

        public Task Invoke()
        {
            SentAt.Add(time.GetUtcNow() - _start);
            Response = answers[SentAt.Count - 1]();
            return Task.CompletedTask;
        }
    }

    private sealed class FakeRequest(CancellationToken cancellation) : RequestBase
    {
        public override CancellationToken GetCancellationToken() => cancellation;

        public override int GetArgumentCount() => 0;

        public override ValueTask<Response> Invoke() => throw new NotSupportedException();

        public override object GetTarget() => throw new NotSupportedException();

        public override void SetTarget(ITargetHolder holder) => throw new NotSupportedException();

        public override void Dispose()
        {
        }

        public override string GetMethodName() => "GetOrPinAsync";

        public override string GetInterfaceName() => "ISessionGrain";

        public override string GetActivityName() => "ISessionGrain/GetOrPinAsync";

        public override Type GetInterfaceType() => typeof(ISessionGrain);

        public override MethodInfo GetMethod() => typeof(ISessionGrain).GetMethod(nameof(ISessionGrain.GetOrPinAsync))!;
    }
}
